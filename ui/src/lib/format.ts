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
