// @mentions: a display name after "@", case-insensitive, not inside a longer word. Names may
// contain spaces ("@Ada Lovelace"), so a mention is matched against known names, never parsed
// out of the text on its own.

/** Letters, digits and underscore in any script: what may not touch a mention on either side. */
const WORD = '[\\p{L}\\p{N}\\p{M}_]';

const cache = new Map<string, RegExp>();

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

function mentionRe(name: string): RegExp {
  let re = cache.get(name);
  if (!re) {
    re = new RegExp(`(?<!${WORD})@${escapeRe(name)}(?!${WORD})`, 'giu');
    if (cache.size > 50) cache.clear();
    cache.set(name, re);
  }
  re.lastIndex = 0;
  return re;
}

/** Whether `body` mentions `name` (`@name`, any case, at word boundaries). */
export function mentionsName(body: string, name: string | null | undefined): boolean {
  if (!name || !body.includes('@')) return false;
  return mentionRe(name).test(body);
}

export type MentionPart = string | { mention: string };

/** Splits text around the mentions of `name`, for highlighting them. */
export function splitMentions(text: string, name: string | null | undefined): MentionPart[] {
  if (!name || !text.includes('@')) return [text];
  const out: MentionPart[] = [];
  let last = 0;
  for (const m of text.matchAll(mentionRe(name))) {
    const at = m.index ?? 0;
    if (at > last) out.push(text.slice(last, at));
    out.push({ mention: m[0] });
    last = at + m[0].length;
  }
  if (last < text.length) out.push(text.slice(last));
  return out.length > 0 ? out : [text];
}

/** Longest name the server accepts, so the query never needs to be longer. */
const MAX_QUERY = 32;

/**
 * The mention being typed at the caret: the text from an "@" that starts a word up to the caret
 * (it may contain spaces, as names can), or null when the caret is not in one.
 */
export function mentionQuery(text: string, caret: number): { start: number; query: string } | null {
  const from = Math.max(0, caret - MAX_QUERY - 1);
  for (let i = caret - 1; i >= from; i--) {
    const ch = text[i];
    if (ch === '\n') return null;
    if (ch !== '@') continue;
    const before = i > 0 ? text[i - 1] : '';
    if (before !== '' && new RegExp(WORD, 'u').test(before)) return null;
    const query = text.slice(i + 1, caret);
    if (query.startsWith(' ')) return null;
    return { start: i, query };
  }
  return null;
}

/**
 * Names matching a query, best first: names starting with it, then names with a word starting
 * with it; case-insensitive, each name once, at most `limit`.
 */
export function matchNames(names: string[], query: string, limit = 8): string[] {
  return matchMembers(
    names.map((name) => ({ key: name, name })),
    query,
    limit,
  ).map((m) => m.name);
}

/** Someone to mention: `name` is what "@" completes to, `label` how they are shown (two Sams apart). */
export interface Member {
  /** Unique per person: the user id, or the name when that is all there is. */
  key: string;
  name: string;
  label?: string;
  /** What the avatar colour derives from. */
  color?: string;
}

/** `matchNames` for people: each person once (by key), ordered by how they are shown. */
export function matchMembers<T extends Member>(members: T[], query: string, limit = 8): T[] {
  const q = query.toLocaleLowerCase();
  const prefix: T[] = [];
  const word: T[] = [];
  const seen = new Set<string>();
  for (const m of members) {
    if (seen.has(m.key)) continue;
    seen.add(m.key);
    const n = m.name.toLocaleLowerCase();
    if (n.startsWith(q)) prefix.push(m);
    else if (q !== '' && n.split(/\s+/).some((w) => w.startsWith(q))) word.push(m);
  }
  const byLabel = (a: T, b: T) => (a.label ?? a.name).localeCompare(b.label ?? b.name, undefined, { sensitivity: 'base' });
  return [...prefix.sort(byLabel), ...word.sort(byLabel)].slice(0, limit);
}

/** Replaces the query at `start`..`caret` with the full mention and a space. */
export function completeMention(text: string, start: number, caret: number, name: string): { text: string; caret: number } {
  const insert = `@${name} `;
  const rest = text.slice(caret).replace(/^ /, '');
  return { text: text.slice(0, start) + insert + rest, caret: start + insert.length };
}
