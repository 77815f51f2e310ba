import type { User } from '../protocol/types';
import { Avatar } from './Avatar';

export interface OnlineListProps {
  users: User[];
  /**
   * Members of the room, when more than `users` (a large room, whose list is only its first
   * members). Otherwise the list is complete and counted by name.
   */
  total?: number;
  /** Ids of this client's own connections. */
  myIds: string[];
  /** Stale while disconnected: shown dimmed. */
  stale?: boolean;
}

/**
 * Who is in the room. The list is unique by user id; one person with two tabs is two users
 * with one name, so they are shown once with a count. A large room lists only its first
 * members and the number of the others.
 */
export function OnlineList({ users, myIds, total, stale = false }: OnlineListProps) {
  const byName = new Map<string, { name: string; count: number; me: boolean }>();
  for (const u of users) {
    const e = byName.get(u.name) ?? { name: u.name, count: 0, me: false };
    e.count++;
    e.me ||= myIds.includes(u.id);
    byName.set(u.name, e);
  }
  const people = [...byName.values()].sort((a, b) => (a.me === b.me ? a.name.localeCompare(b.name) : a.me ? -1 : 1));
  // Unlisted members are counted as users: their names (and so their tabs) are unknown.
  const more = total !== undefined && total > users.length ? total - users.length : 0;

  return (
    <section className={`online${stale ? ' stale' : ''}`} aria-labelledby="online-heading">
      <h2 id="online-heading" className="section-title">
        Online <span className="count-badge" data-testid="online-count">{more > 0 ? total : people.length}</span>
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
      {more > 0 && (
        <p className="online-more" data-testid="online-more">
          and {more} more
        </p>
      )}
    </section>
  );
}
