/// Every IPC command the webview may call. Shared by build.rs (app manifest) and the shell
/// (handler and generated bindings); a test checks all three and the capability agree.
pub const COMMANDS: &[&str] = &[
    "app_info",
    "active_profile",
    "update_agent_identity",
    "list_open_cases",
];
