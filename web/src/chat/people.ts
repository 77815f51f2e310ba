// How the UI names people. With identity (a server that sends `welcome.user`) a person is a
// stable user id: two people may share a name, one person may change it, and every place that
// shows a name (message authors, the online list, typing, mentions, direct messages) asks the
// same Directory so that they agree. Without identity (older servers) ids are per connection,
// and a name is all there is to tell people apart: the directory then hands names back as is.

import type { Message, User } from '../protocol/types';

export interface Directory {
  identity: boolean;
  /** What tells people apart: the user id with identity, the name without. */
  key(u: User): string;
  /** The person's current name (the latest known for the id). */
  name(u: User): string;
  /** The current name, with a short part of the id when another person in view has it too. */
  label(u: User): string;
  /** What the avatar and author colour derive from, the same on every client. */
  color(u: User): string;
}

/** Names are compared as people read them: case, width and surrounding space do not count. */
export function nameKey(name: string): string {
  return name.normalize('NFKC').trim().toLocaleLowerCase();
}

const MIN_TAG = 2;

/**
 * The shortest prefix (at least two characters) of each id that differs from the others'
 * prefixes of that length. Ids are unique, so the whole id always does.
 */
export function idTags(ids: string[]): Map<string, string> {
  const unique = [...new Set(ids)];
  const longest = Math.max(MIN_TAG, ...unique.map((id) => id.length));
  for (let n = MIN_TAG; n <= longest; n++) {
    const tags = unique.map((id) => id.slice(0, n));
    if (new Set(tags).size === unique.length) return new Map(unique.map((id, i) => [id, tags[i]]));
  }
  return new Map(unique.map((id) => [id, id]));
}

/** "Sam · 3f": the name and the id tag that tells this Sam from the others in view. */
export function taggedName(name: string, tag: string): string {
  return `${name} · ${tag}`;
}

export interface DirectoryInput {
  identity: boolean;
  /** The latest known name by user id (renames, presence, live messages). */
  names: Record<string, string>;
  /** Everyone shown on the screen: colliding names among them get a tag. */
  seen: Iterable<User>;
}

export function makeDirectory({ identity, names, seen }: DirectoryInput): Directory {
  if (!identity) {
    return { identity, key: (u) => u.name, name: (u) => u.name, label: (u) => u.name, color: (u) => u.name };
  }
  const current = (u: User) => names[u.id] ?? u.name;
  const byName = new Map<string, Set<string>>();
  for (const u of seen) {
    if (!u || typeof u.id !== 'string') continue;
    const k = nameKey(current(u));
    let ids = byName.get(k);
    if (!ids) byName.set(k, (ids = new Set()));
    ids.add(u.id);
  }
  const tags = new Map<string, string>();
  for (const ids of byName.values()) {
    if (ids.size < 2) continue;
    for (const [id, tag] of idTags([...ids])) tags.set(id, tag);
  }
  return {
    identity,
    key: (u) => u.id,
    name: current,
    label: (u) => {
      const tag = tags.get(u.id);
      return tag === undefined ? current(u) : taggedName(current(u), tag);
    },
    color: (u) => u.id,
  };
}

/**
 * The name each author had in their newest loaded message: history is stored with the name at
 * the time, so after a reload this is the best guess for people no rename event was seen for.
 */
export function latestNames(messages: Message[], into: Record<string, string> = {}): Record<string, string> {
  for (const m of messages) into[m.from.id] = m.from.name;
  return into;
}
