import { describe, expect, it } from 'vitest';
import { neighbour, shortcutLabel, viewForShortcut } from './views';

const key = (k: string, mods: Partial<KeyboardEvent> = {}) => ({
  key: k, ctrlKey: false, metaKey: false, altKey: false, shiftKey: false, ...mods,
});

describe('navigation shortcuts', () => {
  it('maps Ctrl or ⌘ with a digit to its view', () => {
    expect(viewForShortcut(key('1', { ctrlKey: true }))).toBe('cases');
    expect(viewForShortcut(key('2', { metaKey: true }))).toBe('audit');
    expect(viewForShortcut(key('4', { ctrlKey: true }))).toBe('settings');
    expect(viewForShortcut(key('5', { ctrlKey: true }))).toBe('about');
  });

  it('ignores plain digits, other modifiers and unknown digits so typing is never hijacked', () => {
    expect(viewForShortcut(key('2'))).toBeNull();
    expect(viewForShortcut(key('2', { ctrlKey: true, shiftKey: true }))).toBeNull();
    expect(viewForShortcut(key('2', { ctrlKey: true, altKey: true }))).toBeNull();
    expect(viewForShortcut(key('9', { ctrlKey: true }))).toBeNull();
  });

  it('moves through the navigation with wrap-around', () => {
    expect(neighbour('cases', 1)).toBe('audit');
    expect(neighbour('about', 1)).toBe('cases');
    expect(neighbour('cases', -1)).toBe('about');
  });

  it('writes shortcuts the way the platform does', () => {
    expect(shortcutLabel('1', true)).toBe('⌘1');
    expect(shortcutLabel('1', false)).toBe('Ctrl+1');
  });
});
