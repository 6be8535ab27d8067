// Generated from the Rust types in src-tauri/ by `make bindings`. Do not edit by hand.

import { call } from './ipc';

/**
 * Stable error codes shared with the UI (serialized in snake_case).
 */
export type ErrorCode = "invalid_input" | "not_found" | "schema_too_new" | "storage" | "storage_busy" | "io" | "unauthorized" | "forbidden" | "rate_limited" | "unreachable" | "timeout" | "invalid_response" | "rejected" | "service_error" | "not_configured" | "out_of_order" | "case_closed" | "conflict" | "ticket_closed" | "stale_evidence" | "keychain_unavailable" | "internal";

/**
 * The only error that crosses IPC.
 */
export type IpcError = { code: ErrorCode, message: string, retryable: boolean, 
/**
 * The form field the agent must correct (its path in the command's input), when the error
 * is about one.
 */
field?: string, };

/**
 * The services (the two Zendesk instances are separate services).
 */
export type Service = "gitlab" | "zendesk" | "zendesk_us_gov" | "mailgun" | "customersdot";

/** Every service, in the order Casekit lists them, with the name an agent knows it by (`Service::label`). */
export const SERVICE_LABELS: readonly { id: Service; label: string }[] = [
  { id: "gitlab", label: "GitLab" },
  { id: "zendesk", label: "Zendesk" },
  { id: "zendesk_us_gov", label: "Zendesk US Government" },
  { id: "mailgun", label: "Mailgun" },
  { id: "customersdot", label: "CustomersDot" },
];

/**
 * Where a profile's services are.
 */
export type ProfileKind = "sandbox" | "live";

/**
 * How CustomersDot is worked.
 */
export type CustomersDotMode = "api" | "manual";

/**
 * The services' addresses. An empty URL means that service is not set up.
 */
export type ServiceSettings = { 
/**
 * Without `/api/v4`.
 */
gitlabUrl: string, 
/**
 * `https://{subdomain}.zendesk.com` (a bare subdomain is accepted on input).
 */
zendeskUrl: string, 
/**
 * The US Government instance; optional.
 */
zendeskUsGovUrl: string, 
/**
 * `https://api.mailgun.net` (US) or `https://api.eu.mailgun.net` (EU), without `/v3`.
 */
mailgunUrl: string, mailgunDomain: string, customersdotUrl: string, customersdotMode: CustomersDotMode, };

/**
 * A profile as the Settings view shows it.
 */
export type Profile = { id: number, name: string, kind: ProfileKind, agentName: string, agentEmail: string, isActive: boolean, services: ServiceSettings, updatedAt: string, };

/**
 * What the Settings form saves: a new live profile (no id) or changes to one.
 */
export type ProfileInput = { id: number | null, name: string, agentName: string, agentEmail: string, services: ServiceSettings, };

/**
 * The result of testing one service.
 */
export type ConnectionCheck = { service: Service, 
/**
 * The address that was called ('' when none was).
 */
address: string, 
/**
 * Reachable, accepted, and nothing missing.
 */
ok: boolean, 
/**
 * Who the credentials belong to, as the service says.
 */
account: string | null, 
/**
 * Facts worth seeing (scopes, expiry, role, domain state).
 */
details: Array<string>, 
/**
 * What the playbooks need that this token lacks.
 */
missing: Array<string>, error: IpcError | null, elapsedMs: number, };

/**
 * A playbook in the picker.
 */
export type PlaybookInfo = { id: string, title: string, useWhen: string, version: string, source: string, steps: number, };

/**
 * Which Zendesk instance a ticket lives on.
 */
export type TicketInstance = "global" | "us_gov";

/**
 * Whether a case can still move.
 */
export type CaseStatus = "open" | "finished";

/**
 * How a finished case ended.
 */
export type CaseOutcome = "completed" | "blocked" | "switched" | "abandoned";

/**
 * Where a queued ticket write is.
 */
export type OutboxState = "pending" | "sent" | "discarded";

/**
 * A ticket as the New case form shows it before the case opens.
 */
export type TicketPreview = { instance: TicketInstance, id: number, subject: string, status: string, requesterId: number, requesterName: string, requesterEmail: string, url: string, };

/**
 * What opening a case needs.
 */
export type NewCase = { ticketInstance: TicketInstance, ticketId: number, playbookId: string, };

/**
 * A comment of the case's ticket, for picking the customer's confirmation.
 */
export type TicketComment = { id: number, authorId: number, byRequester: boolean, public: boolean, createdAt: string, body: string, 
/**
 * Whether it would count as the answer to the current step's permission request: by the
 * one person who must answer, public, after the request (decided here, not in the UI).
 */
acceptable: boolean, };

export type ChallengeResult = { id: string, passed: boolean, };

/**
 * What the agent submits for the current step.
 */
export type StepInput = { "type": "checklist", ticked: Array<string>, fields: { [key in string]: string }, } | { "type": "run_lookup" } | { "type": "enter_evidence", fields: { [key in string]: string }, } | { "type": "continue" } | { "type": "follow_block" } | { "type": "request_permission", post: boolean, } | { "type": "confirm_permission", comment_id: number, } | { "type": "verify", risk: string, results: Array<ChallengeResult>, } | { "type": "decide", option: string, reason: string, } | { "type": "run_action", confirmation: string, } | { "type": "write_note" } | { "type": "send_reply", post: boolean, } | { "type": "manual_done", evidence: string, } | { "type": "finish" } | { "type": "refresh" };

/**
 * One line of an evidence table.
 */
export type Fact = { label: string, value: string, 
/**
 * `passed` or `blocked` when the line decides a gate.
 */
status: string | null, };

/**
 * A link to where a fact comes from (GitLab admin, Zendesk, Mailgun).
 */
export type Link = { label: string, url: string, };

/**
 * One call of an action's preview.
 */
export type PlannedCall = { method: string, path: string, 
/**
 * Before → after, in words.
 */
change: string, };

/**
 * One call as it was run (or skipped because its effect was already there).
 */
export type CallRecord = { method: string, path: string, 
/**
 * `done` or `skipped: …`.
 */
result: string, };

/**
 * One line of the step list.
 */
export type StepLine = { id: string, title: string, kind: string, 
/**
 * `done`, `skipped`, `blocked`, `failed`, `current` or `pending`.
 */
status: string, 
/**
 * What was recorded there, in one line.
 */
detail: string | null, };

export type EvidenceView = { title: string, at: string, rows: Array<Fact>, links: Array<Link>, };

export type ItemView = { id: string, label: string, reason: string, required: boolean, };

export type FieldView = { id: string, label: string, 
/**
 * `text`, `email`, `emails`, `username`, `choice`, or `reviewer_name` / `reviewer_email` (the
 * peer reviewer: another agent than the one running the case).
 */
kind: string, options: Array<string>, required: boolean, 
/**
 * A value already known (carried over from an earlier case or step).
 */
value: string, };

export type GateView = { gate: string, reason: string, passed: boolean, detail: string, 
/**
 * What following the block does, in words.
 */
onFail: string, };

export type PermissionView = { requestedAt: string | null, postedCommentId: number | null, 
/**
 * The one person whose reply counts (recorded with the request once sent).
 */
answerer: Answerer | null, 
/**
 * Why no one can be named yet (the request cannot be sent until this is resolved).
 */
answererProblem: string | null, 
/**
 * Comments up to this id do not count (the request itself and everything before it).
 */
afterCommentId: number | null, };

/**
 * Whose reply counts as the permission a step asks for (see `consent.rs`).
 */
export type Role = "requester" | "permission_giver" | "primary_address";

/**
 * The one Zendesk user whose reply counts, and why it is them.
 */
export type Answerer = { role: Role, 
/**
 * Their Zendesk user id: a comment counts only if its author is this user.
 */
userId: number, name: string, email: string, 
/**
 * Why this person, in words the agent can repeat to the customer.
 */
why: string, };

export type ChallengeView = { id: string, label: string, hint: string, };

export type RiskLevel = { level: string, required: number, };

export type OptionView = { id: string, label: string, reason: string, blocks: string | null, 
/**
 * The option the evidence points to.
 */
proposed: boolean, };

/**
 * The last run of an action or note: the calls made and, if it failed, why.
 */
export type AttemptView = { calls: Array<CallRecord>, error: IpcError | null, };

/**
 * The current step and what the agent may do there.
 */
export type StepView = { id: string, title: string, help: string, } & ({ "kind": "checklist", items: Array<ItemView>, fields: Array<FieldView>, 
/**
 * The step waits for the customer to create a portal account by signing in with their
 * GitLab account (the Sandbox can play the customer's side).
 */
awaitsPortalSignUp: boolean, } | { "kind": "lookup", 
/**
 * What the agent enters where the profile has no API for the source; empty when the
 * lookup fetches everything itself.
 */
fields: Array<FieldView>, 
/**
 * Where to read what the fields ask for.
 */
link: string | null, } | { "kind": "gate", gates: Array<GateView>, 
/**
 * Why the gate is current again (the refreshed evidence no longer passes it).
 */
notice: string | null, } | { "kind": "verify", challenges: Array<ChallengeView>, riskLevels: Array<RiskLevel>, } | { "kind": "permission", 
/**
 * The request to send.
 */
text: string | null, permission: PermissionView, } | { "kind": "decision", options: Array<OptionView>, 
/**
 * Why the evidence points to the proposed option.
 */
text: string | null, } | { "kind": "action", calls: Array<PlannedCall>, destructive: boolean, 
/**
 * What to type to confirm a destructive action.
 */
confirmText: string | null, lastAttempt: AttemptView | null, } | { "kind": "manual", 
/**
 * A deep link into the other tool.
 */
link: string | null, 
/**
 * What to do there.
 */
text: string | null, } | { "kind": "note", 
/**
 * The admin note line to append.
 */
text: string, lastAttempt: AttemptView | null, } | { "kind": "reply", text: string | null, } | { "kind": "summary" });

/**
 * A case, for the wizard.
 */
export type CaseView = { id: number, ticketInstance: TicketInstance, ticketId: number, ticketSubject: string, requester: string, playbookId: string, playbookTitle: string, playbookVersion: string, status: CaseStatus, 
/**
 * Set once the case is finished.
 */
outcome: CaseOutcome | null, originCaseId: number | null, 
/**
 * When this case was switched, the case that carries on.
 */
continuedIn: number | null, steps: Array<StepLine>, current: StepView | null, facts: Array<Fact>, evidence: Array<EvidenceView>, updatedAt: string, };

/**
 * A rendered summary.
 */
export type CaseSummary = { caseId: number, 
/**
 * Markdown, readable in a Zendesk internal note.
 */
markdown: string, 
/**
 * `[casekit:case-N:XXXXXXXX]`: how a posted summary is recognised on the ticket.
 */
marker: string, 
/**
 * The hash of the case's last audit row.
 */
headHash: string, };

/**
 * What posting a summary did.
 */
export type Posted = { "result": "sent", comment_id: number, already: boolean, } | { "result": "queued", outbox_id: number, error: IpcError, };

/**
 * One queued write.
 */
export type OutboxItem = { id: number, caseId: number, ticketInstance: TicketInstance, ticketId: number, state: OutboxState, attempts: number, lastError: string | null, 
/**
 * RFC 3339: when the next automatic try is due.
 */
nextAttemptAt: string, sentCommentId: number | null, createdAt: string, updatedAt: string, };

/**
 * What a flush did.
 */
export type Flushed = { sent: number, waiting: number, };

/**
 * What the audit viewer (and `casekit audit export`) filter by; every field is optional.
 */
export type AuditFilter = { 
/**
 * `8001`, `#8001` or `us_gov#9001`.
 */
ticket: string | null, caseId: number | null, 
/**
 * Part of the agent's name or email.
 */
agent: string | null, playbook: string | null, 
/**
 * `YYYY-MM-DD`, inclusive.
 */
from: string | null, 
/**
 * `YYYY-MM-DD`, inclusive.
 */
to: string | null, 
/**
 * Words to find anywhere (each must occur); an email or a ticket number works too.
 */
text: string | null, limit: number | null, };

/**
 * A stored row.
 */
export type AuditRow = { id: number, at: string, agent: string, caseId: number | null, ticket: string | null, playbookId: string | null, playbookVersion: string | null, step: string | null, kind: string, payload: unknown, prevHash: string, hash: string, };

/**
 * One page of matching rows, newest first, and how many matched in all.
 */
export type AuditPage = { rows: Array<AuditRow>, total: number, };

export type BadRow = { id: number, problem: string, };

/**
 * The outcome of checking the whole chain.
 */
export type Verification = { rows: number, 
/**
 * The hash of the newest row (what a summary quotes).
 */
head: string, 
/**
 * The first row found wrong and why; `None` when the chain holds.
 */
firstBad: BadRow | null, };

/**
 * One row of the Cases view.
 */
export type CaseListItem = { id: number, 
/**
 * The Zendesk instance the ticket lives on.
 */
ticketInstance: TicketInstance, ticketId: number, playbookTitle: string, currentStep: string, 
/**
 * RFC 3339, UTC.
 */
updatedAt: string, };

/**
 * What the About view shows, and whether the store opened.
 */
export type AppInfo = { version: string, platform: string, dataDir: string, databasePath: string, logDir: string, 
/**
 * None when the database could not be opened; `startup_error` says why.
 */
schemaVersion: number | null, startupError: IpcError | null, };

/** Version, folders, schema version, and why the database did not open if it did not. Rejects with an `IpcError`. */
export function appInfo(): Promise<AppInfo> {
  return call<AppInfo>('app_info', {}, 'blocking');
}

/** The profile in use. Rejects with an `IpcError`. */
export function activeProfile(): Promise<Profile> {
  return call<Profile>('active_profile', {}, 'blocking');
}

/** Every profile, the Sandbox first. Rejects with an `IpcError`. */
export function listProfiles(): Promise<Array<Profile>> {
  return call<Array<Profile>>('list_profiles', {}, 'blocking');
}

/** Creates (no id) or updates a profile; for the Sandbox only the agent's name and email change. Rejects with an `IpcError`. */
export function saveProfile(profile: ProfileInput): Promise<Profile> {
  return call<Profile>('save_profile', { profile }, 'blocking');
}

/** Makes a profile the active one. Rejects with an `IpcError`. */
export function activateProfile(id: number): Promise<Profile> {
  return call<Profile>('activate_profile', { id }, 'blocking');
}

/** Deletes a live profile without cases, and its tokens; returns the remaining profiles. Rejects with an `IpcError`. */
export function deleteProfile(id: number): Promise<Array<Profile>> {
  return call<Array<Profile>>('delete_profile', { id }, 'blocking');
}

/** The services of a profile that have a token in the system keychain. Rejects with an `IpcError`. */
export function storedTokens(profileId: number): Promise<Array<Service>> {
  return call<Array<Service>>('stored_tokens', { profileId }, 'blocking');
}

/** Stores a token in the system keychain; it is never sent back to the window. Rejects with an `IpcError`. */
export function storeToken(profileId: number, service: Service, token: string): Promise<Array<Service>> {
  return call<Array<Service>>('store_token', { profileId, service, token }, 'blocking');
}

/** Removes a token from the system keychain. Rejects with an `IpcError`. */
export function removeToken(profileId: number, service: Service): Promise<Array<Service>> {
  return call<Array<Service>>('remove_token', { profileId, service }, 'blocking');
}

/** Calls the service with the profile's credentials: who they belong to and what they lack. Rejects with an `IpcError`. */
export function testConnection(profileId: number, service: Service): Promise<ConnectionCheck> {
  return call<ConnectionCheck>('test_connection', { profileId, service }, 'network');
}

/** Open cases, most recently touched first. Rejects with an `IpcError`. */
export function listOpenCases(): Promise<Array<CaseListItem>> {
  return call<Array<CaseListItem>>('list_open_cases', {}, 'blocking');
}

/** The playbooks an agent can start a case with. Rejects with an `IpcError`. */
export function listPlaybooks(): Promise<Array<PlaybookInfo>> {
  return call<Array<PlaybookInfo>>('list_playbooks', {}, 'blocking');
}

/** A ticket's subject, status and requester, fetched from Zendesk before opening a case. Rejects with an `IpcError`. */
export function previewTicket(instance: TicketInstance, ticketId: number): Promise<TicketPreview> {
  return call<TicketPreview>('preview_ticket', { instance, ticketId }, 'network');
}

/** Opens a case on a ticket with a playbook. Rejects with an `IpcError`. */
export function openCase(newCase: NewCase): Promise<CaseView> {
  return call<CaseView>('open_case', { newCase }, 'network');
}

/** A case: its steps, the current step and what may be done there, facts and evidence. Rejects with an `IpcError`. */
export function caseView(caseId: number): Promise<CaseView> {
  return call<CaseView>('case_view', { caseId }, 'network');
}

/** Submits the input for the case's current step; anything out of order is refused. Rejects with an `IpcError`. */
export function submitStep(caseId: number, stepId: string, input: StepInput): Promise<CaseView> {
  return call<CaseView>('submit_step', { caseId, stepId, input }, 'network');
}

/** The comments of the case's ticket, to pick the customer's confirmation from. Rejects with an `IpcError`. */
export function ticketComments(caseId: number): Promise<Array<TicketComment>> {
  return call<Array<TicketComment>>('ticket_comments', { caseId }, 'network');
}

/** Ends an open case without finishing it, with the reason. Rejects with an `IpcError`. */
export function abandonCase(caseId: number, reason: string): Promise<CaseView> {
  return call<CaseView>('abandon_case', { caseId, reason }, 'network');
}

/** The case summary (Markdown) rendered from the case's audit rows. Rejects with an `IpcError`. */
export function caseSummary(caseId: number): Promise<CaseSummary> {
  return call<CaseSummary>('case_summary', { caseId }, 'blocking');
}

/** Posts the summary to the ticket as an internal note, once; queues it in the outbox when offline. Rejects with an `IpcError`. */
export function postSummary(caseId: number): Promise<Posted> {
  return call<Posted>('post_summary', { caseId }, 'network');
}

/** Saves the summary as a Markdown file chosen in the native dialog. Rejects with an `IpcError`. */
export function saveSummary(caseId: number): Promise<string | null> {
  return call<string | null>('save_summary', { caseId }, 'blocking');
}

/** Ticket writes waiting for the network, and recent ones. Rejects with an `IpcError`. */
export function listOutbox(): Promise<Array<OutboxItem>> {
  return call<Array<OutboxItem>>('list_outbox', {}, 'blocking');
}

/** Tries one waiting ticket write now. Rejects with an `IpcError`. */
export function retryOutbox(id: number): Promise<Flushed> {
  return call<Flushed>('retry_outbox', { id }, 'network');
}

/** Gives up on a waiting ticket write, with the reason. Rejects with an `IpcError`. */
export function discardOutbox(id: number, reason: string): Promise<Array<OutboxItem>> {
  return call<Array<OutboxItem>>('discard_outbox', { id, reason }, 'network');
}

/** Audit rows matching the filter and search words. Rejects with an `IpcError`. */
export function queryAudit(filter: AuditFilter): Promise<AuditPage> {
  return call<AuditPage>('query_audit', { filter }, 'blocking');
}

/** Checks the audit log's hash chain. Rejects with an `IpcError`. */
export function verifyAudit(): Promise<Verification> {
  return call<Verification>('verify_audit', {}, 'blocking');
}

/** Exports the matching audit rows as JSON Lines to a file chosen in the native dialog. Rejects with an `IpcError`. */
export function exportAudit(filter: AuditFilter): Promise<string | null> {
  return call<string | null>('export_audit', { filter }, 'blocking');
}

/** Sandbox only: the ticket's requester replies, as a customer would in Zendesk. Rejects with an `IpcError`. */
export function simulateCustomerReply(caseId: number, body: string): Promise<Array<TicketComment>> {
  return call<Array<TicketComment>>('simulate_customer_reply', { caseId, body }, 'network');
}

/** Sandbox only: the customer creates a portal account by signing in with the case's GitLab account. Rejects with an `IpcError`. */
export function simulatePortalSignUp(caseId: number): Promise<string> {
  return call<string>('simulate_portal_sign_up', { caseId }, 'network');
}
