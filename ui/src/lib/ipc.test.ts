import { afterEach, describe, expect, it, vi } from 'vitest';
import { clearMocks, mockIPC } from '@tauri-apps/api/mocks';
import { call, run, toIpcError, WAIT_MS, type BusyCallState, type CallState } from './ipc';
import type { IpcError } from './bindings';

describe('toIpcError', () => {
  it('keeps an error from the back end as it is', () => {
    const e = { code: 'storage_busy', message: 'The local database is busy.', retryable: true };
    expect(toIpcError(e)).toEqual(e);
  });

  it('keeps the form field an error is about', () => {
    const e = { code: 'invalid_input', message: 'The work email "sam@" is not an email address.', retryable: false, field: 'agentEmail' };
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

describe('call', () => {
  afterEach(() => {
    vi.useRealTimers();
    clearMocks();
  });

  it('stops waiting after its bound and says what to do, without losing the draft', async () => {
    vi.useFakeTimers();
    mockIPC(() => new Promise(() => {}));
    const pending = call('submit_step', {}, 'network');
    const seen = pending.catch((e: IpcError) => e);
    await vi.advanceTimersByTimeAsync(WAIT_MS.network);
    const e = (await seen) as IpcError;
    expect(e.code).toBe('timeout');
    expect(e.retryable).toBe(true);
    expect(e.message).toContain('Nothing you entered is lost');
    expect(e.message).toContain('reopen the case first');
  });

  it('waits less for work on this computer than for the services', () => {
    expect(WAIT_MS.blocking).toBeLessThan(WAIT_MS.network);
  });

  it('passes the answer and the back end error through', async () => {
    mockIPC((cmd) => {
      if (cmd === 'fails') throw { code: 'not_found', message: 'No such case.', retryable: false };
      return 42;
    });
    expect(await call<number>('answers', {}, 'blocking')).toBe(42);
    await expect(call('fails', {}, 'blocking')).rejects.toEqual({ code: 'not_found', message: 'No such case.', retryable: false });
  });
});

describe('run', () => {
  const refused: IpcError = { code: 'invalid_input', message: 'Enter the ticket number.', retryable: false };

  it('is busy until the call settles and clears the error shown before', async () => {
    const state: BusyCallState<'fetch' | 'open'> = { busy: false, error: refused };
    let answer!: () => void;
    const pending = run(state, () => new Promise<void>((resolve) => (answer = resolve)), 'fetch');
    expect(state).toEqual({ busy: 'fetch', error: null });
    answer();
    await pending;
    expect(state).toEqual({ busy: false, error: null });
  });

  it('keeps a failure to show instead of throwing, and is no longer busy', async () => {
    const state: BusyCallState = { busy: false, error: null };
    await run(state, () => Promise.reject(refused), true);
    expect(state).toEqual({ busy: false, error: refused });
  });

  it('shows what is not an IpcError as an internal error', async () => {
    const state: CallState = { error: null };
    await run(state, async () => {
      throw new TypeError('view is null');
    });
    expect(state.error?.code).toBe('internal');
    expect(state.error?.message).toContain('view is null');
  });

  it('leaves busy alone when the call is not marked busy', async () => {
    const state: BusyCallState<number> = { busy: 7, error: refused };
    await run(state, () => Promise.resolve());
    expect(state).toEqual({ busy: 7, error: null });
  });

  it('runs the work after clearing the error, so a failure inside it is the one shown', async () => {
    const state: CallState = { error: refused };
    const seen: (IpcError | null)[] = [];
    await run(state, async () => {
      seen.push(state.error);
      throw { code: 'conflict', message: 'Reload the case.', retryable: false };
    });
    expect(seen).toEqual([null]);
    expect(state.error).toEqual({ code: 'conflict', message: 'Reload the case.', retryable: false });
  });
});
