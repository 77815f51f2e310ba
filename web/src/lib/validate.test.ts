import { describe, expect, it } from 'vitest';
import { byteLength, checkName, cleanBody, isValidRoom, normalizeRoomInput } from './validate';

describe('checkName', () => {
  it.each([
    ['alice', 'alice'],
    ['  Bob Smith  ', 'Bob Smith'],
    ['Zoë 🚀', 'Zoë 🚀'],
    ['x'.repeat(32), 'x'.repeat(32)],
  ])('accepts %j', (input, want) => {
    expect(checkName(input)).toEqual({ ok: true, name: want });
  });

  it.each(['', '   ', 'x'.repeat(33), 'bad\tname', 'bad\u0000', 'zero\u200bwidth', 'nb\u00a0sp'])('refuses %j', (input) => {
    expect(checkName(input).ok).toBe(false);
  });

  it('counts characters, not UTF-16 units', () => {
    expect(checkName('🚀'.repeat(32)).ok).toBe(true);
    expect(checkName('🚀'.repeat(33)).ok).toBe(false);
  });
});

describe('rooms', () => {
  it('validates [a-z0-9_-]{1,64}', () => {
    expect(isValidRoom('general')).toBe(true);
    expect(isValidRoom('dev_ops-2')).toBe(true);
    expect(isValidRoom('a'.repeat(64))).toBe(true);
    expect(isValidRoom('a'.repeat(65))).toBe(false);
    expect(isValidRoom('')).toBe(false);
    expect(isValidRoom('General')).toBe(false);
    expect(isValidRoom('a b')).toBe(false);
    expect(isValidRoom('../x')).toBe(false);
  });

  it('normalizes what people type', () => {
    expect(normalizeRoomInput(' #Dev Ops ')).toBe('dev-ops');
    expect(normalizeRoomInput('random')).toBe('random');
    expect(normalizeRoomInput('bad/room')).toBeNull();
    expect(normalizeRoomInput('   ')).toBeNull();
  });
});

describe('bodies', () => {
  it('measures UTF-8 bytes', () => {
    expect(byteLength('abc')).toBe(3);
    expect(byteLength('é')).toBe(2);
    expect(byteLength('🚀')).toBe(4);
  });

  it('drops leading blank lines and trailing space, keeps inner newlines and indentation', () => {
    expect(cleanBody('\n\n  code\n    more  \n\n')).toBe('  code\n    more');
  });
});
