//! The `#[tauri::command]` functions, all declared by one macro so that the handler, the
//! generated TypeScript and the app manifest cannot drift apart.

use super::bindings::CommandSignature;
use super::{handlers, AppState};
use crate::IpcError;

/// Declares each command once: a Tauri command that runs its handler on the blocking pool,
/// the invoke handler over all of them, and their signatures for the TypeScript generator.
macro_rules! ipc_commands {
    ($( $(#[doc = $doc:literal])* $name:ident ( $($arg:ident : $argty:ty),* ) -> $ret:ty; )*) => {
        $(
            $(#[doc = $doc])*
            #[tauri::command]
            async fn $name(state: tauri::State<'_, AppState>, $($arg: $argty),*) -> Result<$ret, IpcError> {
                let state = state.inner().clone();
                state.mark_ipc(stringify!($name));
                tauri::async_runtime::spawn_blocking(move || handlers::$name(&state, $($arg),*))
                    .await
                    .map_err(|e| IpcError::from(crate::Error::Internal(format!("the {} command stopped: {e}", stringify!($name)))))?
            }
        )*

        /// The invoke handler for every command.
        pub(super) fn handler() -> impl Fn(tauri::ipc::Invoke) -> bool + Send + Sync + 'static {
            tauri::generate_handler![$($name),*]
        }

        /// Name, arguments and reply type of every command, in declaration order.
        pub fn signatures() -> Vec<CommandSignature> {
            vec![$(
                CommandSignature::new::<$ret>(
                    stringify!($name),
                    concat!($($doc),*),
                    vec![$( CommandSignature::arg::<$argty>(stringify!($arg)) ),*],
                )
            ),*]
        }
    };
}

ipc_commands! {
    /// Version, folders, schema version, and why the database did not open if it did not.
    app_info() -> handlers::AppInfo;
    /// The profile in use.
    active_profile() -> crate::store::profiles::Profile;
    /// Saves the agent's name and work email on the active profile.
    update_agent_identity(identity: crate::store::profiles::AgentIdentity) -> crate::store::profiles::Profile;
    /// Open cases, most recently touched first.
    list_open_cases() -> Vec<crate::store::cases::CaseListItem>;
}
