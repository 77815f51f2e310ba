import { describe, expect, it } from 'vitest';
import { completeMention, matchMembers, matchNames, mentionQuery, mentionsName, splitMentions } from './mentions';

describe('mentionsName', () => {
  it.each([
    ['hi @alice', true],
    ['@Alice: look', true],
    ['@ALICE!', true],
    ['(@alice)', true],
    ['hi alice', false],
    ['mail alice@example.com', false],
    ['x@alice', false],
    ['@alicea', false],
    ['@alice_b', false],
    ['@alice2', false],
    ['@alice.', true],
    ['', false],
  ])('%j -> %s', (body, want) => {
    expect(mentionsName(body, 'alice')).toBe(want);
  });

  it('matches names with spaces, symbols and other scripts', () => {
    expect(mentionsName('ping @Ada Lovelace, please', 'Ada Lovelace')).toBe(true);
    expect(mentionsName('ping @Ada', 'Ada Lovelace')).toBe(false);
    expect(mentionsName('hey @c++ fan', 'c++ fan')).toBe(true);
    expect(mentionsName('שלום @דנה', 'דנה')).toBe(true);
    expect(mentionsName('@Zoë 🚀 hi', 'Zoë 🚀')).toBe(true);
    expect(mentionsName('anything', null)).toBe(false);
  });
});

describe('splitMentions', () => {
  it('splits around every mention, keeping the text as typed', () => {
    expect(splitMentions('@Bob hi @bob and bob@x', 'bob')).toEqual([{ mention: '@Bob' }, ' hi ', { mention: '@bob' }, ' and bob@x']);
    expect(splitMentions('nothing', 'bob')).toEqual(['nothing']);
  });
});

describe('mention autocomplete', () => {
  it('finds the mention being typed at the caret', () => {
    expect(mentionQuery('hi @al', 6)).toEqual({ start: 3, query: 'al' });
    expect(mentionQuery('@', 1)).toEqual({ start: 0, query: '' });
    expect(mentionQuery('hi @Ada Lo', 10)).toEqual({ start: 3, query: 'Ada Lo' });
    expect(mentionQuery('mail a@b', 8)).toBeNull();
    expect(mentionQuery('@ x', 3)).toBeNull();
    expect(mentionQuery('@al\nnext', 8)).toBeNull();
    expect(mentionQuery('no at sign', 10)).toBeNull();
  });

  it('ranks names that start with the query before names with a word that does', () => {
    const names = ['bob', 'Alice Martin', 'alan', 'Martin Al', 'carol', 'alan'];
    expect(matchNames(names, 'al')).toEqual(['alan', 'Alice Martin', 'Martin Al']);
    expect(matchNames(names, 'MAR')).toEqual(['Martin Al', 'Alice Martin']);
    expect(matchNames(names, '')).toEqual(['alan', 'Alice Martin', 'bob', 'carol', 'Martin Al']);
    expect(matchNames(names, 'zz')).toEqual([]);
    expect(matchNames(names, '', 2)).toHaveLength(2);
  });

  it('completes the name and puts the caret after it', () => {
    expect(completeMention('hi @al', 3, 6, 'Alice Martin')).toEqual({ text: 'hi @Alice Martin ', caret: 17 });
    expect(completeMention('@b how are you', 0, 2, 'bob')).toEqual({ text: '@bob how are you', caret: 5 });
  });
});

describe('matchMembers', () => {
  it('keeps two people with one name apart (by key), ordered by how they are shown', () => {
    const people = [
      { key: 'b', name: 'Sam', label: 'Sam · b2' },
      { key: 'a', name: 'Sam', label: 'Sam · a1' },
      { key: 'a', name: 'Sam', label: 'Sam · a1' },
      { key: 'c', name: 'Bob' },
    ];
    expect(matchMembers(people, 'sa').map((p) => p.label)).toEqual(['Sam · a1', 'Sam · b2']);
  });
});
