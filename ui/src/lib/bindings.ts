// Generated from the Rust types in src-tauri/ by `make bindings`. Do not edit by hand.

import { invoke } from '@tauri-apps/api/core';

/**
 * Stable error codes shared with the UI (serialized in snake_case).
 */
export type ErrorCode = "invalid_input" | "not_found" | "schema_too_new" | "storage" | "storage_busy" | "io" | "internal";

/**
 * The only error that crosses IPC.
 */
export type IpcError = { code: ErrorCode, message: string, retryable: boolean, };

/**
 * Where a profile's services are.
 */
export type ProfileKind = "sandbox" | "live";

/**
 * A profile as the Settings view shows it.
 */
export type Profile = { id: number, name: string, kind: ProfileKind, agentName: string, agentEmail: string, updatedAt: string, };

/**
 * The agent's name and email, recorded on every case and audit row.
 */
export type AgentIdentity = { name: string, email: string, };

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

/** Saves the agent's name and work email on the active profile. Rejects with an `IpcError`. */
export function updateAgentIdentity(identity: AgentIdentity): Promise<Profile> {
  return invoke<Profile>('update_agent_identity', { identity });
}

/** Open cases, most recently touched first. Rejects with an `IpcError`. */
export function listOpenCases(): Promise<Array<CaseListItem>> {
  return invoke<Array<CaseListItem>>('list_open_cases');
}
