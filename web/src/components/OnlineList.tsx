import type { User } from '../protocol/types';
import { Avatar } from './Avatar';

export interface OnlineListProps {
  users: User[];
  /** Ids of this client's own connections. */
  myIds: string[];
  /** Stale while disconnected: shown dimmed. */
  stale?: boolean;
}

/**
 * Who is in the room. The list is unique by user id; one person with two tabs is two users
 * with one name, so they are shown once with a count.
 */
export function OnlineList({ users, myIds, stale = false }: OnlineListProps) {
  const byName = new Map<string, { name: string; count: number; me: boolean }>();
  for (const u of users) {
    const e = byName.get(u.name) ?? { name: u.name, count: 0, me: false };
    e.count++;
    e.me ||= myIds.includes(u.id);
    byName.set(u.name, e);
  }
  const people = [...byName.values()].sort((a, b) => (a.me === b.me ? a.name.localeCompare(b.name) : a.me ? -1 : 1));

  return (
    <section className={`online${stale ? ' stale' : ''}`} aria-labelledby="online-heading">
      <h2 id="online-heading" className="section-title">
        Online <span className="count-badge" data-testid="online-count">{people.length}</span>
      </h2>
      <ul className="online-list" data-testid="online-list">
        {people.map((p) => (
          <li key={p.name} className="online-user" data-testid="online-user" data-name={p.name}>
            <span className="presence-avatar">
              <Avatar name={p.name} size="sm" />
              <span className="presence-dot" aria-hidden="true" />
            </span>
            <span className="online-name">{p.name}</span>
            {p.me && <span className="you-tag">you</span>}
            {p.count > 1 && (
              <span className="tabs-tag" title={`${p.count} connections`}>
                ×{p.count}
              </span>
            )}
          </li>
        ))}
      </ul>
    </section>
  );
}
