// How the UI calls the back end and reads a failure: every call has a bounded wait, and a
// failed call is always an IpcError with a stable code, even when the rejection did not come
// from Casekit's own error type (a missing permission, a crashed task, no answer at all).
import { invoke } from '@tauri-apps/api/core';
import type { IpcError } from './bindings';

/** How long a command may take: work on this computer, or calls to the services. */
export type Wait = 'blocking' | 'network';

/** Milliseconds before the UI stops waiting. The network bound is above the back end's own
 * (30 s per call, retries included), so its more precise error normally arrives first. */
export const WAIT_MS: Record<Wait, number> = { blocking: 15_000, network: 90_000 };

export function toIpcError(e: unknown): IpcError {
  if (e && typeof e === 'object' && 'code' in e && 'message' in e) {
    const { code, message, retryable, field } = e as IpcError;
    const error: IpcError = { code, message, retryable: Boolean(retryable) };
    if (field) error.field = field;
    return error;
  }
  return {
    code: 'internal',
    message: `Casekit's back end did not answer as expected: ${String(e)}. Restart Casekit; if it happens again, send the log file (About shows where it is).`,
    retryable: false,
  };
}

/** What the agent reads when a command got no answer in time. */
export function noAnswer(wait: Wait): IpcError {
  const seconds = WAIT_MS[wait] / 1000;
  const message =
    wait === 'network'
      ? `No answer from the services within ${seconds} s. Nothing you entered is lost. Check the connection (Settings → Test connection) and try again; if this step changes an account, reopen the case first: it shows whether the change was made.`
      : `Casekit did not answer within ${seconds} s: this computer may be busy or the system keychain may be waiting to be unlocked. Nothing you entered is lost; try again, and restart Casekit if it keeps happening.`;
  return { code: 'timeout', message, retryable: true };
}

/** Invokes a command; rejects with an IpcError, and with a timeout after its wait. */
export async function call<T>(command: string, args: Record<string, unknown>, wait: Wait): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(noAnswer(wait)), WAIT_MS[wait]);
  });
  try {
    return await Promise.race([invoke<T>(command, args), late]);
  } catch (e) {
    throw toIpcError(e);
  } finally {
    clearTimeout(timer);
  }
}

/** What a component shows about its calls to the back end: the last failure. */
export interface CallState {
  error: IpcError | null;
}

/** The same, and which call is running: `true`, or the name or id of the one that is (so its
 * button can say so); `false` when none is. */
export interface BusyCallState<B = true> extends CallState {
  busy: B | false;
}

/** Runs one call for a component: clears the error it shows, marks the call `busy` until it
 * settles (when a `busy` value is given), and keeps a failure as the error to show instead of
 * throwing it. */
export async function run(state: CallState, work: () => Promise<unknown>): Promise<void>;
export async function run<B>(state: BusyCallState<B>, work: () => Promise<unknown>, busy: B): Promise<void>;
export async function run<B>(state: CallState & Partial<BusyCallState<B>>, work: () => Promise<unknown>, busy?: B): Promise<void> {
  state.error = null;
  if (busy !== undefined) state.busy = busy;
  try {
    await work();
  } catch (e) {
    state.error = toIpcError(e);
  } finally {
    if (busy !== undefined) state.busy = false;
  }
}
