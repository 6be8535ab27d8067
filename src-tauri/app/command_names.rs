/// Every IPC command the webview may call. Shared by build.rs (app manifest) and the shell
/// (handler and generated bindings); a test checks all three and the capability agree.
pub const COMMANDS: &[&str] = &[
    "app_info",
    "active_profile",
    "list_profiles",
    "save_profile",
    "activate_profile",
    "delete_profile",
    "stored_tokens",
    "store_token",
    "remove_token",
    "test_connection",
    "list_open_cases",
    "list_playbooks",
    "preview_ticket",
    "open_case",
    "case_view",
    "submit_step",
    "ticket_comments",
    "abandon_case",
    "simulate_customer_reply",
];
