// How the UI reads a failed command: always an IpcError with a stable code, even when the
// rejection did not come from Casekit's own error type (a missing permission, a crashed task).
import type { IpcError } from './bindings';

export function toIpcError(e: unknown): IpcError {
  if (e && typeof e === 'object' && 'code' in e && 'message' in e) {
    const { code, message, retryable } = e as IpcError;
    return { code, message, retryable: Boolean(retryable) };
  }
  return {
    code: 'internal',
    message: `Casekit's back end did not answer as expected: ${String(e)}. Restart Casekit; if it happens again, send the log file (About shows where it is).`,
    retryable: false,
  };
}
