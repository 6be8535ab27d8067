import { describe, expect, it } from 'vitest';
import { mailgunRegion, needsToken, serviceUrl, newLiveServices } from './services';
import type { Profile } from './bindings';

const live: Profile = {
  id: 2, name: 'Live', kind: 'live', agentName: 'Sam', agentEmail: 'sam@example.com', isActive: false,
  services: newLiveServices(), updatedAt: '2026-11-22T09:00:00Z',
};

describe('services', () => {
  it('reads the Mailgun region from the API URL', () => {
    expect(mailgunRegion('https://api.mailgun.net/')).toBe('us');
    expect(mailgunRegion('https://api.eu.mailgun.net')).toBe('eu');
    expect(mailgunRegion('')).toBe('us');
    expect(mailgunRegion('http://127.0.0.1:4100')).toBe('other');
  });

  it('asks for a CustomersDot token only in api mode and never for the sandbox', () => {
    expect(needsToken(live, 'customersdot')).toBe(false);
    expect(needsToken({ ...live, services: { ...live.services, customersdotMode: 'api' } }, 'customersdot')).toBe(true);
    expect(needsToken({ ...live, kind: 'sandbox' }, 'gitlab')).toBe(false);
  });

  it('shows the Mailgun domain and the CustomersDot mode with their addresses', () => {
    expect(serviceUrl(live.services, 'mailgun')).toBe('https://api.mailgun.net · mg.gitlab.com');
    expect(serviceUrl(live.services, 'customersdot')).toBe('https://customers.gitlab.com (manual)');
    expect(serviceUrl(live.services, 'zendesk')).toBe('');
  });
});
