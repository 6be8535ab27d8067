import { afterEach, describe, expect, it, vi } from 'vitest';
import { cleanup, render, screen } from '@testing-library/svelte';
import userEvent from '@testing-library/user-event';
import { clearMocks, mockIPC } from '@tauri-apps/api/mocks';
import CaseWizard from './CaseWizard.svelte';
import type { Answerer, CaseView, StepView } from '../lib/bindings';

// Where a case goes after the step under test.
const reply: StepView = { id: 'reply-done', title: 'Reply: done', help: '', kind: 'reply', text: 'Done.' };

function caseAt(current: StepView, id = 1): CaseView {
  return {
    id, ticketInstance: 'global', ticketId: 8001, ticketSubject: 'Please release my email address', requester: 'Quinn <quinn@example.com>',
    playbookId: 'release-email', playbookTitle: 'Release an email address', playbookVersion: 'abc123def456', status: 'open',
    outcome: null, originCaseId: null, continuedIn: null,
    steps: [{ id: 'confirm-identity', title: 'Requester confirms username and email', kind: 'checklist', status: 'current', detail: null }],
    current, facts: [], evidence: [], updatedAt: '2026-11-22T10:00:00Z',
  };
}

afterEach(() => {
  cleanup();
  clearMocks();
});

describe('the wizard', () => {
  it('submits a checklist with its fields, keyboard only', async () => {
    const submitted: unknown[] = [];
    mockIPC((cmd, args) => {
      if (cmd === 'case_view') {
        return caseAt({
          id: 'confirm-identity', title: 'Requester confirms username and email', help: '', kind: 'checklist', awaitsPortalSignUp: false,
          items: [{ id: 'both-stated', label: 'Both stated', reason: 'why', required: true }],
          fields: [{ id: 'username', label: 'Username', kind: 'username', options: [], required: true, value: '' }],
        });
      }
      if (cmd === 'submit_step') {
        submitted.push(args);
        throw { code: 'invalid_input', message: 'Enter “Username”.', retryable: false };
      }
      throw new Error(cmd);
    });
    const user = userEvent.setup();
    render(CaseWizard, { caseId: 1, sandbox: true, onopen: vi.fn(), onclose: vi.fn() });
    const field = await screen.findByLabelText('Username');
    expect(document.activeElement).toBe(field);
    await user.keyboard('quiet-quinn');
    await user.tab();
    await user.keyboard(' ');
    await user.tab();
    await user.keyboard('{Enter}');
    expect(submitted).toEqual([
      { caseId: 1, stepId: 'confirm-identity', input: { type: 'checklist', ticked: ['both-stated'], fields: { username: 'quiet-quinn' } } },
    ]);
    expect((await screen.findByTestId('step-error')).textContent).toContain('Enter “Username”.');
  });

  it('lets the Sandbox play the customer where the step waits for their portal sign-up', async () => {
    const newAccount = (awaitsPortalSignUp: boolean): StepView => ({
      id: 'new-account', title: 'The customer creates a portal account', help: '', kind: 'checklist', awaitsPortalSignUp,
      items: [{ id: 'created', label: 'The new portal account exists', reason: '', required: true }], fields: [],
    });
    mockIPC((cmd) => {
      if (cmd === 'case_view') return caseAt(newAccount(true));
      throw new Error(cmd);
    });
    render(CaseWizard, { caseId: 1, sandbox: true, onopen: vi.fn(), onclose: vi.fn() });
    expect((await screen.findByTestId('sandbox-portal')).textContent).toContain('play the customer');
    cleanup();
    render(CaseWizard, { caseId: 1, sandbox: false, onopen: vi.fn(), onclose: vi.fn() });
    await screen.findByTestId('current-step');
    expect(screen.queryByTestId('sandbox-portal')).toBeNull();
    cleanup();
    clearMocks();
    mockIPC((cmd) => {
      if (cmd === 'case_view') return caseAt(newAccount(false));
      throw new Error(cmd);
    });
    render(CaseWizard, { caseId: 1, sandbox: true, onopen: vi.fn(), onclose: vi.fn() });
    await screen.findByTestId('current-step');
    expect(screen.queryByTestId('sandbox-portal')).toBeNull();
  });

  it('shows a blocked gate with where it leads, and follows a switch to the new case', async () => {
    const onopen = vi.fn();
    mockIPC((cmd) => {
      if (cmd === 'case_view') {
        return caseAt({
          id: 'no-activity', kind: 'gate', title: 'The account shows no activity', help: '', notice: null,
          gates: [
            { gate: 'never_signed_in', reason: 'Never signed in', passed: false, detail: 'Signed in 1 time(s).', onFail: 'switch to “Account ownership verification”' },
          ],
        });
      }
      if (cmd === 'submit_step') return { ...caseAt(reply, 2), playbookTitle: 'Account ownership verification' };
      throw new Error(cmd);
    });
    const user = userEvent.setup();
    render(CaseWizard, { caseId: 1, sandbox: false, onopen, onclose: vi.fn() });
    expect((await screen.findByTestId('gates')).textContent).toContain('blocked');
    const follow = screen.getByTestId('step-submit');
    expect(follow.textContent).toContain('Account ownership verification');
    await user.click(follow);
    expect(onopen).toHaveBeenCalledWith(2);
  });
  it('asks for what the admin screen shows when a lookup has no API, and submits the entries', async () => {
    const submitted: unknown[] = [];
    mockIPC((cmd, args) => {
      if (cmd === 'case_view') {
        return caseAt({
          id: 'diagnosis', title: 'Diagnose: portal accounts, links, mail', help: '', kind: 'lookup', link: 'https://customers.gitlab.com/admin/customers',
          fields: [
            { id: '0.account', label: 'casey@example.com: portal account', kind: 'choice', options: ['Found', 'No portal account with this email'], required: true, value: '' },
            { id: '0.confirmed_at', label: 'casey@example.com: Confirmed at', kind: 'text', options: [], required: false, value: '' },
            { id: '0.uid', label: 'casey@example.com: Uid', kind: 'text', options: [], required: false, value: '' },
          ],
        });
      }
      if (cmd === 'submit_step') {
        submitted.push(args);
        throw { code: 'invalid_input', message: 'casey@example.com: enter the Uid.', retryable: false };
      }
      throw new Error(cmd);
    });
    const user = userEvent.setup();
    render(CaseWizard, { caseId: 1, sandbox: false, onopen: vi.fn(), onclose: vi.fn() });
    expect((await screen.findByTestId('lookup-link')).getAttribute('href')).toBe('https://customers.gitlab.com/admin/customers');
    await user.selectOptions(screen.getByLabelText('casey@example.com: portal account'), 'Found');
    await user.type(screen.getByLabelText(/Confirmed at/), 'empty');
    await user.click(screen.getByTestId('step-submit'));
    expect(submitted).toEqual([
      { caseId: 1, stepId: 'diagnosis', input: { type: 'enter_evidence', fields: { '0.account': 'Found', '0.confirmed_at': 'empty' } } },
    ]);
    expect((await screen.findByTestId('step-error')).textContent).toContain('enter the Uid');
  });

  it('records a change made in another tool with the pasted evidence', async () => {
    const submitted: unknown[] = [];
    mockIPC((cmd, args) => {
      if (cmd === 'case_view') {
        return caseAt({
          id: 'unlink', title: 'Unlink the GitLab account', help: '', kind: 'action', destructive: true, confirmText: null, lastAttempt: null,
          calls: [{ method: 'MANUAL', path: 'CustomersDot admin screen', change: 'linked GitLab user → none; paste what the screen shows to confirm' }],
        });
      }
      if (cmd === 'submit_step') {
        submitted.push(args);
        return caseAt(reply);
      }
      throw new Error(cmd);
    });
    const user = userEvent.setup();
    render(CaseWizard, { caseId: 1, sandbox: false, onopen: vi.fn(), onclose: vi.fn() });
    const button = await screen.findByTestId('step-submit');
    expect((button as HTMLButtonElement).disabled).toBe(true);
    await user.type(screen.getByLabelText(/pasted as evidence/), 'Unlinked uid 111');
    await user.click(button);
    expect(submitted).toEqual([{ caseId: 1, stepId: 'unlink', input: { type: 'run_action', confirmation: 'Unlinked uid 111' } }]);
  });

  it('names who must answer a permission and offers only the replies the back end accepts', async () => {
    const submitted: unknown[] = [];
    const mario: Answerer = { role: 'permission_giver', userId: 6015, name: 'Mario Maintainer', email: 'mario@acme.example', why: 'mario@acme.example is a verified email of @maint-mario, who has the access' };
    mockIPC((cmd, args) => {
      if (cmd === 'case_view') {
        return caseAt({
          id: 'owner-permission', title: "Owner's or maintainer's permission", help: '', kind: 'permission', text: 'Could you please provide permission?',
          permission: { requestedAt: '2026-11-22T10:00:00Z', postedCommentId: 900100, answerer: mario, answererProblem: null, afterCommentId: 900100 },
        });
      }
      if (cmd === 'ticket_comments') {
        return [
          { id: 900101, authorId: 6016, byRequester: true, public: true, createdAt: '2026-11-22T10:01:00Z', body: 'I am allowed, go ahead.', acceptable: false },
          { id: 900102, authorId: 6015, byRequester: false, public: true, createdAt: '2026-11-22T10:02:00Z', body: 'Yes, I give permission.', acceptable: true },
        ];
      }
      if (cmd === 'submit_step') {
        submitted.push(args);
        return caseAt(reply);
      }
      throw new Error(cmd);
    });
    const user = userEvent.setup();
    render(CaseWizard, { caseId: 1, sandbox: false, onopen: vi.fn(), onclose: vi.fn() });
    expect((await screen.findByTestId('answerer')).textContent).toContain('Mario Maintainer <mario@acme.example>');
    await screen.findByText(/Yes, I give permission/);
    const page = document.body.textContent ?? '';
    expect(page).not.toContain('I am allowed, go ahead.');
    expect(page).not.toMatch(/only a (public )?reply by the requester/i);
    expect(page).toContain('the requester cannot give this permission');
    await user.click(screen.getByTestId('step-submit'));
    expect(submitted).toEqual([{ caseId: 1, stepId: 'owner-permission', input: { type: 'confirm_permission', comment_id: 900102 } }]);
  });

  it('asks why for a choice, and shows the case as it is now when another window got there first', async () => {
    const submitted: unknown[] = [];
    let views = 0;
    mockIPC((cmd, args) => {
      if (cmd === 'case_view') {
        views += 1;
        if (views > 1) return caseAt({ id: 'suspend', title: 'Suspend the user', help: '', kind: 'action', calls: [], destructive: false, confirmText: null, lastAttempt: null });
        return caseAt({
          id: 'judgement', title: 'Malicious, or escalate', help: '', kind: 'decision', text: null,
          options: [
            { id: 'malicious', label: 'It is malicious: ban the user', reason: '', blocks: null, proposed: false },
            { id: 'escalate', label: 'In doubt: escalate instead', reason: '', blocks: null, proposed: false },
          ],
        });
      }
      if (cmd === 'submit_step') {
        submitted.push(args);
        throw { code: 'conflict', message: '“Malicious, or escalate” of case 1 is already done: nothing was run again.', retryable: false };
      }
      throw new Error(cmd);
    });
    const user = userEvent.setup();
    render(CaseWizard, { caseId: 1, sandbox: false, onopen: vi.fn(), onclose: vi.fn() });
    await user.click(await screen.findByLabelText(/It is malicious/));
    const submit = screen.getByTestId('step-submit') as HTMLButtonElement;
    expect(screen.getByText(/Why \(required/)).toBeTruthy();
    expect(submit.disabled).toBe(true);
    await user.type(screen.getByLabelText(/Why/), '   ');
    expect(submit.disabled).toBe(true);
    await user.type(screen.getByLabelText(/Why/), 'phishing links');
    await user.click(submit);
    expect(submitted).toEqual([
      { caseId: 1, stepId: 'judgement', input: { type: 'decide', option: 'malicious', reason: '   phishing links' } },
    ]);
    expect((await screen.findByTestId('step-error')).textContent).toContain('already done');
    expect((await screen.findByText('Suspend the user', { selector: 'h2, h3' })).textContent).toBe('Suspend the user');
  });
});
