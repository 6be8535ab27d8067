// Generated from the Rust types in src-tauri/ by `make bindings`. Do not edit by hand.

import { invoke } from '@tauri-apps/api/core';

/**
 * Stable error codes shared with the UI (serialized in snake_case).
 */
export type ErrorCode = "invalid_input" | "not_found" | "schema_too_new" | "storage" | "storage_busy" | "io" | "unauthorized" | "forbidden" | "rate_limited" | "unreachable" | "timeout" | "invalid_response" | "rejected" | "service_error" | "not_configured" | "keychain_unavailable" | "internal";

/**
 * The only error that crosses IPC.
 */
export type IpcError = { code: ErrorCode, message: string, retryable: boolean, };

/**
 * The services (the two Zendesk instances are separate services).
 */
export type Service = "gitlab" | "zendesk" | "zendesk_us_gov" | "mailgun" | "customersdot";

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
 * One row of the Cases view.
 */
export type CaseListItem = { id: number, 
/**
 * `global` or `us_gov`: the Zendesk instance the ticket lives on.
 */
ticketInstance: string, ticketId: number, playbookTitle: string, currentStep: string, 
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
  return invoke<AppInfo>('app_info');
}

/** The profile in use. Rejects with an `IpcError`. */
export function activeProfile(): Promise<Profile> {
  return invoke<Profile>('active_profile');
}

/** Every profile, the Sandbox first. Rejects with an `IpcError`. */
export function listProfiles(): Promise<Array<Profile>> {
  return invoke<Array<Profile>>('list_profiles');
}

/** Creates (no id) or updates a profile; for the Sandbox only the agent's name and email change. Rejects with an `IpcError`. */
export function saveProfile(profile: ProfileInput): Promise<Profile> {
  return invoke<Profile>('save_profile', { profile });
}

/** Makes a profile the active one. Rejects with an `IpcError`. */
export function activateProfile(id: number): Promise<Profile> {
  return invoke<Profile>('activate_profile', { id });
}

/** Deletes a live profile without cases, and its tokens; returns the remaining profiles. Rejects with an `IpcError`. */
export function deleteProfile(id: number): Promise<Array<Profile>> {
  return invoke<Array<Profile>>('delete_profile', { id });
}

/** The services of a profile that have a token in the system keychain. Rejects with an `IpcError`. */
export function storedTokens(profileId: number): Promise<Array<Service>> {
  return invoke<Array<Service>>('stored_tokens', { profileId });
}

/** Stores a token in the system keychain; it is never sent back to the window. Rejects with an `IpcError`. */
export function storeToken(profileId: number, service: Service, token: string): Promise<Array<Service>> {
  return invoke<Array<Service>>('store_token', { profileId, service, token });
}

/** Removes a token from the system keychain. Rejects with an `IpcError`. */
export function removeToken(profileId: number, service: Service): Promise<Array<Service>> {
  return invoke<Array<Service>>('remove_token', { profileId, service });
}

/** Calls the service with the profile's credentials: who they belong to and what they lack. Rejects with an `IpcError`. */
export function testConnection(profileId: number, service: Service): Promise<ConnectionCheck> {
  return invoke<ConnectionCheck>('test_connection', { profileId, service });
}

/** Open cases, most recently touched first. Rejects with an `IpcError`. */
export function listOpenCases(): Promise<Array<CaseListItem>> {
  return invoke<Array<CaseListItem>>('list_open_cases');
}
