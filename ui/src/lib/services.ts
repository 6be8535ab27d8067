// What the Settings view says about each service. Names and order come from the Rust
// `Service` (generated into bindings.ts); the token hints are the Settings view's own words.
import { SERVICE_LABELS, type Profile, type Service, type ServiceSettings } from './bindings';

/** What to paste in each service's token field. */
const TOKEN_HINTS: Record<Service, string> = {
  gitlab: 'Personal access token of an administrator, api scope',
  zendesk: 'API token; calls are signed with your work email',
  zendesk_us_gov: 'API token of the US Government instance',
  mailgun: 'API key with access to the sending domain',
  customersdot: 'Admin API token (api mode only)',
};

/** Every service, in Casekit's order, with its name and token hint. */
export const SERVICES: { id: Service; label: string; hint: string }[] = SERVICE_LABELS.map((s) => ({
  ...s,
  hint: TOKEN_HINTS[s.id],
}));

export const MAILGUN_REGIONS = {
  us: 'https://api.mailgun.net',
  eu: 'https://api.eu.mailgun.net',
} as const;

export type MailgunRegion = keyof typeof MAILGUN_REGIONS | 'other';

/** Which region a Mailgun API URL is; anything else is "other" (a proxy, a training room). */
export function mailgunRegion(url: string): MailgunRegion {
  const clean = url.trim().replace(/\/+$/, '');
  if (clean === '' || clean === MAILGUN_REGIONS.us) return 'us';
  if (clean === MAILGUN_REGIONS.eu) return 'eu';
  return 'other';
}

/** The address a profile has for a service ('' when not set up). */
export function serviceUrl(s: ServiceSettings, service: Service): string {
  switch (service) {
    case 'gitlab': return s.gitlabUrl;
    case 'zendesk': return s.zendeskUrl;
    case 'zendesk_us_gov': return s.zendeskUsGovUrl;
    case 'mailgun': return s.mailgunUrl && s.mailgunDomain ? `${s.mailgunUrl} · ${s.mailgunDomain}` : s.mailgunUrl;
    case 'customersdot': return s.customersdotUrl ? `${s.customersdotUrl} (${s.customersdotMode})` : '';
  }
}

/** Whether a service of this profile needs a token in the keychain. */
export function needsToken(profile: Profile, service: Service): boolean {
  return profile.kind === 'live' && !(service === 'customersdot' && profile.services.customersdotMode === 'manual');
}

/** Settings for a new live profile: GitLab.com's public addresses, the rest to fill in. */
export function newLiveServices(): ServiceSettings {
  return {
    gitlabUrl: 'https://gitlab.com',
    zendeskUrl: '',
    zendeskUsGovUrl: '',
    mailgunUrl: MAILGUN_REGIONS.us,
    mailgunDomain: 'mg.gitlab.com',
    customersdotUrl: 'https://customers.gitlab.com',
    customersdotMode: 'manual',
  };
}
