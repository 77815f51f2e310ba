import { useEffect, useMemo, useState, useSyncExternalStore } from 'react';
import { saveRooms } from '../lib/storage';
import type { ChatClientOptions } from './client';
import { ChatClient } from './client';
import type { ChatState } from './state';

export interface ChatActions {
  openRoom(room: string): void;
  leaveRoom(room: string): void;
  send(room: string, body: string): string;
  /** Changes the display name (in place with identity; reconnects under it otherwise). */
  rename(name: string): void;
  /** Forgets a refused rename. */
  clearRename(): void;
  /** Opens a direct-message room with a person; false when it cannot be asked now. */
  openDm(userId: string): boolean;
  /** Hides a direct-message room: off the list until one of the two opens it again. */
  hideDm(room: string): boolean;
  /** Forgets the refusal of the last direct message asked for (the note was closed). */
  clearDmRefusal(): void;
  /** The shown room is seen up to its newest message. */
  markRead(room: string): void;
  edit(room: string, id: string, body: string): string;
  deleteMessage(room: string, id: string): string;
  react(room: string, id: string, emoji: string, on: boolean): string;
  setTopic(room: string, body: string): string;
  alertsShown(upTo: number): void;
  retry(ref: string): void;
  discard(ref: string): void;
  loadOlder(room: string): void;
  typing(room: string): void;
  reconnectNow(): void;
  /** Ends the session (with `everywhere`, on every device) and connects again as a new guest; false when the server could not be told. */
  signOut(everywhere?: boolean): Promise<boolean>;
  dismissToast(id: number): void;
  toast(code: string, message: string): void;
}

export type UseChatOptions = ChatClientOptions & {
  /** Remember joined rooms in localStorage (default true). */
  persistRooms?: boolean;
};

/**
 * The one owner of the chat connection: creates a ChatClient for the component's lifetime,
 * follows the room in the URL, and renders its state. `name` is the name to connect with
 * first; later changes go through `actions.rename`.
 */
export function useChat(opts: UseChatOptions): { state: ChatState; actions: ChatActions } {
  // Created once; later changes of name and room are applied through the client.
  const [client] = useState(() => new ChatClient(opts));

  useEffect(() => {
    client.start();
    return () => client.stop();
  }, [client]);

  useEffect(() => {
    client.openRoom(opts.room);
  }, [client, opts.room]);

  // A hidden tab counts what arrives in the shown room as unread, for the title and favicon.
  useEffect(() => {
    if (typeof document === 'undefined') return;
    const update = () => client.setHidden(document.visibilityState === 'hidden');
    update();
    document.addEventListener('visibilitychange', update);
    return () => document.removeEventListener('visibilitychange', update);
  }, [client]);

  const state = useSyncExternalStore(client.subscribe, client.getState, client.getState);

  const persist = opts.persistRooms ?? true;
  const roomsKey = state.roomOrder.join(',');
  useEffect(() => {
    if (persist) saveRooms(roomsKey === '' ? [] : roomsKey.split(','));
  }, [persist, roomsKey]);

  const actions = useMemo<ChatActions>(
    () => ({
      openRoom: (room) => client.openRoom(room),
      leaveRoom: (room) => client.leaveRoom(room),
      send: (room, body) => client.sendMessage(room, body),
      rename: (name) => client.rename(name),
      clearRename: () => client.clearRename(),
      openDm: (userId) => client.openDm(userId),
      hideDm: (room) => client.hideDm(room),
      clearDmRefusal: () => client.clearDmRefusal(),
      markRead: (room) => client.markRead(room),
      edit: (room, id, body) => client.editMessage(room, id, body),
      deleteMessage: (room, id) => client.deleteMessage(room, id),
      react: (room, id, emoji, on) => client.react(room, id, emoji, on),
      setTopic: (room, body) => client.setTopic(room, body),
      alertsShown: (upTo) => client.alertsShown(upTo),
      retry: (ref) => client.retryMessage(ref),
      discard: (ref) => client.discardMessage(ref),
      loadOlder: (room) => client.loadOlder(room),
      typing: (room) => client.typing(room),
      reconnectNow: () => client.reconnectNow(true),
      signOut: (everywhere) => client.signOut(everywhere),
      dismissToast: (id) => client.dismissToast(id),
      toast: (code, message) => client.toast(code, message),
    }),
    [client],
  );

  return { state, actions };
}
