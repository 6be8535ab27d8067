import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { cleanup, render, screen } from '@testing-library/svelte';
import userEvent from '@testing-library/user-event';
import { clearMocks, mockIPC } from '@tauri-apps/api/mocks';
import App from './App.svelte';
import type { AppInfo, CaseListItem, Profile } from './lib/bindings';

const info: AppInfo = {
  version: '0.1.0',
  platform: 'linux x86_64',
  dataDir: '/tmp/ck',
  databasePath: '/tmp/ck/casekit.sqlite3',
  logDir: '/tmp/ck/logs',
  schemaVersion: 1,
  startupError: null,
};

let profile: Profile;
let cases: CaseListItem[];
let calls: { cmd: string; args: unknown }[];

function backend(overrides: Partial<Record<string, (args: any) => unknown>> = {}) {
  mockIPC((cmd, args) => {
    calls.push({ cmd, args });
    const custom = overrides[cmd];
    if (custom) return custom(args);
    switch (cmd) {
      case 'app_info': return info;
      case 'active_profile': return profile;
      case 'list_open_cases': return cases;
      case 'update_agent_identity': {
        const { identity } = args as { identity: { name: string; email: string } };
        if (!identity.email.includes('@')) {
          throw { code: 'invalid_input', message: `The work email "${identity.email}" is not an email address: it has no @.`, retryable: false };
        }
        profile = { ...profile, agentName: identity.name, agentEmail: identity.email, updatedAt: '2026-11-22T10:00:00Z' };
        return profile;
      }
    }
    throw new Error(`unexpected command ${cmd}`);
  });
}

beforeEach(() => {
  profile = { id: 1, name: 'Sandbox', kind: 'sandbox', agentName: '', agentEmail: '', updatedAt: '2026-11-22T09:00:00Z' };
  cases = [];
  calls = [];
});

afterEach(() => {
  cleanup();
  clearMocks();
});

describe('the shell', () => {
  it('opens on the Cases view with its empty state and the sandbox banner', async () => {
    backend();
    render(App);
    expect(await screen.findByText('No open cases')).toBeTruthy();
    expect(screen.getByTestId('sandbox-banner').textContent).toContain('no real account is touched');
  });

  it('lists open cases with ticket, playbook, step and time', async () => {
    cases = [{ id: 7, ticketInstance: 'us_gov', ticketId: 4242, playbookTitle: 'Malicious user', currentStep: 'Investigate', updatedAt: '2026-11-21T08:30:00Z' }];
    backend();
    render(App);
    expect(await screen.findByText('US Gov #4242')).toBeTruthy();
    expect(screen.getByText('Malicious user')).toBeTruthy();
    expect(screen.getByText('Investigate')).toBeTruthy();
  });

  it('switches views with Ctrl+digit and the arrow keys, focusing the new heading', async () => {
    backend();
    const user = userEvent.setup();
    render(App);
    await screen.findByText('No open cases');
    await user.keyboard('{Control>}2{/Control}');
    const heading = await screen.findByRole('heading', { name: 'Settings' });
    expect(document.activeElement).toBe(heading);

    screen.getByTestId('nav-settings').focus();
    await user.keyboard('{ArrowDown}');
    expect(await screen.findByRole('heading', { name: 'About Casekit' })).toBeTruthy();
    expect(screen.getByText('/tmp/ck/casekit.sqlite3')).toBeTruthy();
  });

  it('shows the back end message for a bad email and saves a good one', async () => {
    backend();
    const user = userEvent.setup();
    render(App);
    await screen.findByText('No open cases');
    await user.click(screen.getByTestId('nav-settings'));
    await user.type(screen.getByLabelText('Name'), 'Ada');
    await user.type(screen.getByLabelText('Work email'), 'ada.example.com');
    await user.click(screen.getByTestId('save-identity'));
    expect((await screen.findByTestId('identity-error')).textContent).toContain('it has no @');
    expect(screen.getByLabelText('Work email').getAttribute('aria-invalid')).toBe('true');

    await user.clear(screen.getByLabelText('Work email'));
    await user.type(screen.getByLabelText('Work email'), 'ada@example.com');
    await user.click(screen.getByTestId('save-identity'));
    expect((await screen.findByTestId('identity-status')).textContent).toContain('Saved');
    expect(screen.queryByTestId('identity-error')).toBeNull();
    expect(calls.filter((c) => c.cmd === 'update_agent_identity')).toHaveLength(2);
  });

  it('explains a database it could not open instead of showing an empty window', async () => {
    backend({
      app_info: () => ({
        ...info,
        schemaVersion: null,
        startupError: { code: 'schema_too_new', message: 'The database was written by a newer Casekit. It was not changed.', retryable: false },
      }),
    });
    render(App);
    const alert = await screen.findByTestId('startup-error');
    expect(alert.textContent).toContain('newer Casekit');
    expect(alert.textContent).toContain('schema_too_new');
    expect(calls.map((c) => c.cmd)).toEqual(['app_info']);
  });
});
