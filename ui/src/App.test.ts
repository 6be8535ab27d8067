import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { cleanup, render, screen } from '@testing-library/svelte';
import userEvent from '@testing-library/user-event';
import { clearMocks, mockIPC } from '@tauri-apps/api/mocks';
import App from './App.svelte';
import type { AppInfo, CaseListItem, ConnectionCheck, Profile, ProfileInput } from './lib/bindings';
import { newLiveServices } from './lib/services';

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
      case 'list_profiles': return [profile];
      case 'save_profile': {
        const { profile: input } = args as { profile: ProfileInput };
        if (!input.agentEmail.includes('@')) {
          throw { code: 'invalid_input', message: `The work email "${input.agentEmail}" is not an email address: it has no @.`, retryable: false, field: 'agentEmail' };
        }
        profile = { ...profile, agentName: input.agentName, agentEmail: input.agentEmail, updatedAt: '2026-11-22T10:00:00Z' };
        return profile;
      }
    }
    throw new Error(`unexpected command ${cmd}`);
  });
}

beforeEach(() => {
  profile = {
    id: 1, name: 'Sandbox', kind: 'sandbox', agentName: '', agentEmail: '', isActive: true,
    services: { ...newLiveServices(), gitlabUrl: '', mailgunUrl: '', mailgunDomain: '', customersdotUrl: '', customersdotMode: 'api' },
    updatedAt: '2026-11-22T09:00:00Z',
  };
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
    await user.keyboard('{Control>}4{/Control}');
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
    await user.click(screen.getByTestId('save-profile'));
    expect((await screen.findByTestId('profile-error')).textContent).toContain('it has no @');
    expect(screen.getByLabelText('Work email').getAttribute('aria-invalid')).toBe('true');

    await user.clear(screen.getByLabelText('Work email'));
    await user.type(screen.getByLabelText('Work email'), 'ada@example.com');
    await user.click(screen.getByTestId('save-profile'));
    expect((await screen.findByTestId('profile-status')).textContent).toContain('Saved');
    expect(screen.queryByTestId('profile-error')).toBeNull();
    expect(calls.filter((c) => c.cmd === 'save_profile')).toHaveLength(2);
  });

  it('tests a sandbox connection and shows who the token belongs to', async () => {
    const check: ConnectionCheck = {
      service: 'gitlab', address: 'http://127.0.0.1:4100', ok: true, account: '@casekit-sandbox-admin (Sandbox Admin)',
      details: ['token “casekit-sandbox-admin”, scopes: api, admin_mode'], missing: [], error: null, elapsedMs: 12,
    };
    backend({ test_connection: () => check });
    const user = userEvent.setup();
    render(App);
    await screen.findByText('No open cases');
    await user.click(screen.getByTestId('nav-settings'));
    expect(screen.getByTestId('connection-gitlab').textContent).toContain('built in');
    await user.click(screen.getByTestId('test-gitlab'));
    const row = await screen.findByTestId('check-gitlab');
    expect(row.textContent).toContain('connected');
    expect(row.textContent).toContain('@casekit-sandbox-admin');
    expect(calls.find((c) => c.cmd === 'test_connection')?.args).toEqual({ profileId: 1, service: 'gitlab' });
  });

  it('stores a live token write-only and shows what a failing check lacks', async () => {
    const live: Profile = { ...profile, id: 2, name: 'GitLab.com', kind: 'live', isActive: false, services: newLiveServices() };
    let stored: string[] = [];
    backend({
      list_profiles: () => [profile, live],
      stored_tokens: () => stored,
      store_token: (args: { token: string; service: string }) => { stored = [args.service]; return stored; },
      test_connection: () => ({
        service: 'gitlab', address: 'https://gitlab.com', ok: false, account: '@sam (Sam)', details: [], missing: ['an administrator account (user administration calls answer 403 otherwise)'],
        error: null, elapsedMs: 40,
      }),
    });
    const user = userEvent.setup();
    render(App);
    await screen.findByText('No open cases');
    await user.click(screen.getByTestId('nav-settings'));
    await user.click(await screen.findByRole('button', { name: 'GitLab.com' }));
    const gitlab = await screen.findByTestId('connection-gitlab');
    expect(gitlab.textContent).toContain('not set');
    expect(screen.getByTestId('connection-customersdot').textContent).toContain('not needed (manual mode)');
    await user.click(screen.getByRole('button', { name: 'Add GitLab token' }));
    const field = screen.getByLabelText('GitLab token') as HTMLInputElement;
    expect(field.type).toBe('password');
    await user.type(field, 'glpat-abcdefghijklmnopqrst');
    await user.click(screen.getByRole('button', { name: 'Store' }));
    expect((await screen.findByTestId('connection-gitlab')).textContent).toContain('stored in keychain');
    expect(document.body.innerHTML).not.toContain('glpat-abcdefghijklmnopqrst');
    await user.click(screen.getByTestId('test-gitlab'));
    expect((await screen.findByTestId('check-gitlab')).textContent).toContain('Needs an administrator account');
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

  it('names a live profile and the instances its changes reach, in place of the sandbox banner', async () => {
    profile = {
      ...profile, id: 2, name: 'GitLab.com production', kind: 'live',
      services: { ...profile.services, gitlabUrl: 'https://gitlab.com', zendeskUrl: 'https://gitlab.zendesk.com' },
    };
    backend();
    render(App);
    const banner = await screen.findByTestId('profile-banner');
    expect(banner.textContent).toContain('GitLab.com production');
    expect(banner.textContent).toContain('GitLab gitlab.com');
    expect(banner.textContent).toContain('Zendesk gitlab.zendesk.com');
    expect(screen.queryByTestId('sandbox-banner')).toBeNull();
  });

  it('cancels a new case while the ticket is still being fetched, and drops the late answer', async () => {
    let answer: (v: unknown) => void = () => {};
    backend({ list_playbooks: () => [], preview_ticket: () => new Promise((resolve) => (answer = resolve)) });
    const user = userEvent.setup();
    render(App);
    await user.click(await screen.findByTestId('new-case-button'));
    await user.type(screen.getByLabelText('Ticket number'), '8001');
    await user.click(screen.getByTestId('fetch-ticket'));
    expect(screen.getByTestId('fetch-ticket').textContent).toBe('Fetching…');
    await user.keyboard('{Escape}');
    expect(await screen.findByText('No open cases')).toBeTruthy();
    answer({ instance: 'global', id: 8001, subject: 'Late', status: 'open', requesterId: 1, requesterName: 'Q', requesterEmail: 'q@example.com', url: '' });
    await new Promise((r) => setTimeout(r, 0));
    expect(screen.queryByTestId('new-case')).toBeNull();
  });
});
