//! The `#[tauri::command]` functions, expanded from the api layer's command table so that the
//! handlers, the generated TypeScript and the app manifest cannot drift apart.

use crate::api::{handlers, AppState};
use crate::IpcError;

/// Over the command table: a Tauri command per entry that runs its handler on the blocking
/// pool (`blocking`: SQLite, keychain) or on a task of its own (`network`: HTTP calls), a panic
/// becoming an error reply either way, and the invoke handler over all of them.
macro_rules! tauri_commands {
    (@run blocking $name:ident $state:ident ($($arg:ident),*)) => {
        crate::api::guarded_blocking(stringify!($name), move || handlers::$name(&$state, $($arg),*)).await
    };
    (@run network $name:ident $state:ident ($($arg:ident),*)) => {
        crate::api::guarded(stringify!($name), async move { handlers::$name(&$state, $($arg),*).await }).await
    };
    ($( $(#[doc = $doc:literal])* $mode:ident $name:ident ( $($arg:ident : $argty:ty),* ) -> $ret:ty; )*) => {
        $(
            $(#[doc = $doc])*
            #[tauri::command]
            async fn $name(state: tauri::State<'_, AppState>, $($arg: $argty),*) -> Result<$ret, IpcError> {
                let state = state.inner().clone();
                state.mark_ipc(stringify!($name));
                tauri_commands!(@run $mode $name state ($($arg),*))
            }
        )*

        /// The invoke handler for every command.
        pub(super) fn handler() -> impl Fn(tauri::ipc::Invoke) -> bool + Send + Sync + 'static {
            tauri::generate_handler![$($name),*]
        }
    };
}

crate::api::commands::ipc_commands!(tauri_commands);
