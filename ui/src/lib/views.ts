// The top-level views, their order in the navigation and their keyboard shortcuts.

export type ViewId = 'cases' | 'audit' | 'outbox' | 'settings' | 'about';

export interface View {
  id: ViewId;
  label: string;
  /** The digit pressed with Ctrl (⌘ on macOS). */
  key: string;
}

export const VIEWS: readonly View[] = [
  { id: 'cases', label: 'Cases', key: '1' },
  { id: 'audit', label: 'Audit log', key: '2' },
  { id: 'outbox', label: 'Outbox', key: '3' },
  { id: 'settings', label: 'Settings', key: '4' },
  { id: 'about', label: 'About', key: '5' },
];

/** The view a key press asks for, or null when it is not a navigation shortcut. */
export function viewForShortcut(e: Pick<KeyboardEvent, 'key' | 'ctrlKey' | 'metaKey' | 'altKey' | 'shiftKey'>): ViewId | null {
  if (!(e.ctrlKey || e.metaKey) || e.altKey || e.shiftKey) return null;
  return VIEWS.find((v) => v.key === e.key)?.id ?? null;
}

/** The view after `current` when moving by `step` through the navigation, wrapping around. */
export function neighbour(current: ViewId, step: 1 | -1): ViewId {
  const i = VIEWS.findIndex((v) => v.id === current);
  return VIEWS[(i + step + VIEWS.length) % VIEWS.length].id;
}

/** A shortcut as the platform writes it. */
export function shortcutLabel(key: string, mac = navigator.platform.startsWith('Mac')): string {
  return mac ? `⌘${key}` : `Ctrl+${key}`;
}
