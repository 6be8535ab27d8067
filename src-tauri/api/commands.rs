//! The IPC command table, declared once: each command's documentation, how long the UI waits
//! for it (`blocking`: SQLite, keychain; `network`: the services), its arguments and its reply.
//! The desktop expands it into `#[tauri::command]`s (`app/commands.rs`), and `signatures` into
//! the typed TypeScript functions, so the handlers, the window and the UI cannot drift apart.

use super::bindings::CommandSignature;

/// Calls the macro `$then` with the command table, one `mode name(args) -> reply;` per command.
macro_rules! ipc_commands {
    ($then:ident) => {
        $then! {
            /// Version, folders, schema version, and why the database did not open if it did not.
            blocking app_info() -> crate::api::handlers::AppInfo;
            /// The profile in use.
            blocking active_profile() -> crate::store::profiles::Profile;
            /// Every profile, the Sandbox first.
            blocking list_profiles() -> Vec<crate::store::profiles::Profile>;
            /// Creates (no id) or updates a profile; for the Sandbox only the agent's name and email change.
            blocking save_profile(profile: crate::store::profiles::ProfileInput) -> crate::store::profiles::Profile;
            /// Makes a profile the active one.
            blocking activate_profile(id: i64) -> crate::store::profiles::Profile;
            /// Deletes a live profile without cases, and its tokens; returns the remaining profiles.
            blocking delete_profile(id: i64) -> Vec<crate::store::profiles::Profile>;
            /// The services of a profile that have a token in the system keychain.
            blocking stored_tokens(profile_id: i64) -> Vec<crate::service::Service>;
            /// Stores a token in the system keychain; it is never sent back to the window.
            blocking store_token(profile_id: i64, service: crate::service::Service, token: String) -> Vec<crate::service::Service>;
            /// Removes a token from the system keychain.
            blocking remove_token(profile_id: i64, service: crate::service::Service) -> Vec<crate::service::Service>;
            /// Calls the service with the profile's credentials: who they belong to and what they lack.
            network test_connection(profile_id: i64, service: crate::service::Service) -> crate::connectors::check::ConnectionCheck;
            /// Open cases, most recently touched first.
            blocking list_open_cases() -> Vec<crate::store::cases::CaseListItem>;
            /// The playbooks an agent can start a case with.
            blocking list_playbooks() -> Vec<crate::playbook::PlaybookInfo>;
            /// A ticket's subject, status and requester, fetched from Zendesk before opening a case.
            network preview_ticket(instance: crate::playbook::engine::TicketInstance, ticket_id: u64) -> crate::playbook::engine::TicketPreview;
            /// Opens a case on a ticket with a playbook.
            network open_case(new_case: crate::playbook::engine::NewCase) -> crate::playbook::view::CaseView;
            /// A case: its steps, the current step and what may be done there, facts and evidence.
            network case_view(case_id: i64) -> crate::playbook::view::CaseView;
            /// Submits the input for the case's current step; anything out of order is refused.
            network submit_step(case_id: i64, step_id: String, input: crate::playbook::engine::StepInput) -> crate::playbook::view::CaseView;
            /// The comments of the case's ticket, to pick the customer's confirmation from.
            network ticket_comments(case_id: i64) -> Vec<crate::playbook::engine::TicketComment>;
            /// Ends an open case without finishing it, with the reason.
            network abandon_case(case_id: i64, reason: String) -> crate::playbook::view::CaseView;
            /// The case summary (Markdown) rendered from the case's audit rows.
            blocking case_summary(case_id: i64) -> crate::summary::CaseSummary;
            /// Posts the summary to the ticket as an internal note, once; queues it in the outbox when offline.
            network post_summary(case_id: i64) -> crate::summary::outbox::Posted;
            /// Saves the summary as a Markdown file chosen in the native dialog.
            blocking save_summary(case_id: i64) -> Option<String>;
            /// Ticket writes waiting for the network, and recent ones.
            blocking list_outbox() -> Vec<crate::store::outbox::OutboxItem>;
            /// Tries one waiting ticket write now.
            network retry_outbox(id: i64) -> crate::summary::outbox::Flushed;
            /// Gives up on a waiting ticket write, with the reason.
            network discard_outbox(id: i64, reason: String) -> Vec<crate::store::outbox::OutboxItem>;
            /// Audit rows matching the filter and search words.
            blocking query_audit(filter: crate::store::search::AuditFilter) -> crate::store::search::AuditPage;
            /// Checks the audit log's hash chain.
            blocking verify_audit() -> crate::store::audit::Verification;
            /// Exports the matching audit rows as JSON Lines to a file chosen in the native dialog.
            blocking export_audit(filter: crate::store::search::AuditFilter) -> Option<String>;
            /// Sandbox only: the ticket's requester replies, as a customer would in Zendesk.
            network simulate_customer_reply(case_id: i64, body: String) -> Vec<crate::playbook::engine::TicketComment>;
            /// Sandbox only: the customer creates a portal account by signing in with the case's GitLab account.
            network simulate_portal_sign_up(case_id: i64) -> String;
        }
    };
}
#[cfg(feature = "desktop")]
pub(crate) use ipc_commands;

/// Declares `signatures()` over the command table.
macro_rules! signatures_of {
    ($( $(#[doc = $doc:literal])* $mode:ident $name:ident ( $($arg:ident : $argty:ty),* ) -> $ret:ty; )*) => {
        /// Name, arguments and reply type of every command, in declaration order.
        pub fn signatures() -> Vec<CommandSignature> {
            vec![$(
                CommandSignature::new::<$ret>(
                    stringify!($name),
                    concat!($($doc),*),
                    stringify!($mode),
                    vec![$( CommandSignature::arg::<$argty>(stringify!($arg)) ),*],
                )
            ),*]
        }
    };
}

ipc_commands!(signatures_of);
