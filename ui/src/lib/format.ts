// Formatting shared by the views.

/** "2026-11-22 14:05" in the agent's local time, or the input unchanged when it is not a date. */
export function localDateTime(iso: string): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

/** The ticket as agents say it: "#123456", with "US Gov" for the US Government instance. */
export function ticketLabel(instance: string, id: number): string {
  return instance === 'us_gov' ? `US Gov #${id}` : `#${id}`;
}

/** The host of a service address ("gitlab.com:8443"), or the text itself when it is not a URL. */
export function hostOf(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return url;
  }
}
