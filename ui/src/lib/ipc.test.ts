import { describe, expect, it } from 'vitest';
import { toIpcError } from './ipc';

describe('toIpcError', () => {
  it('keeps an error from the back end as it is', () => {
    const e = { code: 'storage_busy', message: 'The local database is busy.', retryable: true };
    expect(toIpcError(e)).toEqual(e);
  });

  it('turns anything else into an internal error that says what to do', () => {
    const e = toIpcError('Command app_info not allowed by ACL');
    expect(e.code).toBe('internal');
    expect(e.retryable).toBe(false);
    expect(e.message).toContain('Command app_info not allowed by ACL');
    expect(e.message).toContain('Restart Casekit');
  });
});
