import { afterEach, describe, expect, it, vi } from 'vitest';
import { cleanup, render, screen } from '@testing-library/svelte';
import userEvent from '@testing-library/user-event';
import { clearMocks, mockIPC } from '@tauri-apps/api/mocks';
import CaseWizard from './CaseWizard.svelte';
import type { CaseView, StepView } from '../lib/bindings';

const blank: StepView = {
  id: '', title: '', help: '', kind: '', items: [], fields: [], gates: [], text: null, link: null, permission: null,
  calls: [], destructive: false, confirmText: null, challenges: [], riskLevels: [], options: [], lastAttempt: null,
  notice: null,
};

function caseAt(current: Partial<StepView>, id = 1): CaseView {
  return {
    id, ticketInstance: 'global', ticketId: 8001, ticketSubject: 'Please release my email address', requester: 'Quinn <quinn@example.com>',
    playbookId: 'release-email', playbookTitle: 'Release an email address', playbookVersion: 'abc123def456', status: 'open',
    outcome: null, originCaseId: null, continuedIn: null,
    steps: [{ id: 'confirm-identity', title: 'Requester confirms username and email', kind: 'checklist', status: 'current', detail: null }],
    current: { ...blank, ...current }, facts: [], evidence: [], updatedAt: '2026-11-22T10:00:00Z',
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
          id: 'confirm-identity', title: 'Requester confirms username and email', kind: 'checklist',
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

  it('shows a blocked gate with where it leads, and follows a switch to the new case', async () => {
    const onopen = vi.fn();
    mockIPC((cmd) => {
      if (cmd === 'case_view') {
        return caseAt({
          id: 'no-activity', kind: 'gate', title: 'The account shows no activity',
          gates: [
            { gate: 'never_signed_in', reason: 'Never signed in', passed: false, detail: 'Signed in 1 time(s).', onFail: 'switch to “Account ownership verification”' },
          ],
        });
      }
      if (cmd === 'submit_step') return { ...caseAt({}, 2), playbookTitle: 'Account ownership verification' };
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
});
