import { useCallback, useEffect, useState } from 'react';
import { DEFAULT_ROOM } from '../protocol/types';
import { isValidRoom } from './validate';

/** The room a path names: `/` and anything unknown mean general, `/r/<room>` that room. */
export function roomFromPath(pathname: string): string {
  const m = /^\/r\/([^/]+)\/?$/.exec(pathname);
  if (!m) return DEFAULT_ROOM;
  let room: string;
  try {
    room = decodeURIComponent(m[1]);
  } catch {
    return DEFAULT_ROOM;
  }
  return isValidRoom(room) ? room : DEFAULT_ROOM;
}

export function pathForRoom(room: string): string {
  return `/r/${encodeURIComponent(room)}`;
}

/** The current room from the URL, and a navigate function using history.pushState. */
export function useRoomRoute(): [string, (room: string, replace?: boolean) => void] {
  const [room, setRoom] = useState(() => roomFromPath(window.location.pathname));

  useEffect(() => {
    const onPop = () => setRoom(roomFromPath(window.location.pathname));
    window.addEventListener('popstate', onPop);
    return () => window.removeEventListener('popstate', onPop);
  }, []);

  const navigate = useCallback((next: string, replace = false) => {
    const path = pathForRoom(next);
    if (window.location.pathname !== path) {
      if (replace) window.history.replaceState(null, '', path);
      else window.history.pushState(null, '', path);
    }
    setRoom(next);
  }, []);

  return [room, navigate];
}
