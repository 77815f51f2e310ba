import { describe, expect, it } from 'vitest';
import { idTags, latestNames, makeDirectory, nameKey } from './people';

describe('idTags', () => {
  it('uses the shortest prefix of at least two characters that tells the ids apart', () => {
    expect(Object.fromEntries(idTags(['3fa81c9d', 'k3x9q2mf']))).toEqual({ '3fa81c9d': '3f', k3x9q2mf: 'k3' });
    expect(Object.fromEntries(idTags(['abc123', 'abd999', 'zz']))).toEqual({ abc123: 'abc', abd999: 'abd', zz: 'zz' });
    // Ids sharing a long prefix still end up apart.
    expect(Object.fromEntries(idTags(['guest-0001', 'guest-0002']))).toEqual({ 'guest-0001': 'guest-0001', 'guest-0002': 'guest-0002' });
  });
});

describe('makeDirectory', () => {
  const sam = { id: 'k3x9q2mf', name: 'Sam' };
  const otherSam = { id: '3fa81c9d', name: 'sam ' };
  const bob = { id: 'b0b0b0b0', name: 'Bob' };

  it('hands names back as they are without identity (older servers)', () => {
    const d = makeDirectory({ identity: false, names: { [bob.id]: 'Robert' }, seen: [sam, otherSam, bob] });
    expect([d.label(sam), d.label(otherSam), d.label(bob)]).toEqual(['Sam', 'sam ', 'Bob']);
    expect(d.key(sam)).toBe('Sam');
    expect(d.color(bob)).toBe('Bob');
  });

  it('tags people who share a name (ignoring case and spaces) with a short part of their id, and no one else', () => {
    const d = makeDirectory({ identity: true, names: {}, seen: [sam, otherSam, bob, sam] });
    expect(d.label(sam)).toBe('Sam · k3');
    expect(d.label(otherSam)).toBe('sam  · 3f');
    expect(d.label(bob)).toBe('Bob');
    expect(d.key(sam)).not.toBe(d.key(otherSam));
    expect(d.color(sam)).toBe(sam.id);
  });

  it('uses the latest name by id: a rename can make or end a collision', () => {
    const renamed = makeDirectory({ identity: true, names: { [otherSam.id]: 'Samuel' }, seen: [sam, otherSam] });
    expect(renamed.label(sam)).toBe('Sam');
    expect(renamed.label(otherSam)).toBe('Samuel');
    expect(renamed.name({ id: otherSam.id, name: 'old' })).toBe('Samuel');
    const now = makeDirectory({ identity: true, names: { [bob.id]: 'Sam' }, seen: [sam, bob] });
    expect(now.label(bob)).toBe('Sam · b0');
  });

  it('compares names as people read them', () => {
    expect(nameKey(' ＳＡＭ ')).toBe('sam');
  });
});

describe('latestNames', () => {
  it('takes each author’s name from their newest message', () => {
    const a = { id: 'a', name: 'Bob' };
    expect(latestNames([{ room: 'r', seq: 1, id: '1', from: a, body: '', ts: 1 }, { room: 'r', seq: 2, id: '2', from: { id: 'a', name: 'Robert' }, body: '', ts: 2 }])).toEqual({ a: 'Robert' });
  });
});
