// The UI with a server that knows people (welcome.user): two Sams, renames, direct messages,
// read positions, the session (a token exchanged for the cookie, sign-out), and the same
// screens with an older server.

import { act, fireEvent, render, screen, within } from '@testing-library/react';
import { describe, expect, it, vi } from 'vitest';
import { App } from './App';
import { SESSION_ENDED, SIGNED_OUT, SIGNED_OUT_EVERYWHERE } from './chat/client';
import { fakeSessionApi } from './test/fakeSessionApi';
import { FakeWebSocket, msg, welcome } from './test/fakeWebSocket';
import { socket, stubWebSocketInEachTest } from './test/harness';

const sam = { id: 'k3x9q2mf', name: 'Sam' };
const otherSam = { id: '3fa81c9d', name: 'Sam' };
const bob = { id: 'b0b0b0b0', name: 'Bob' };

stubWebSocketInEachTest();

function idWelcome(room: string, history: object[] = [], extra: object = {}) {
  return welcome(room, sam, history, { user: sam, token: 'tok-1', conn: 'c-1', online: [{ ...sam, devices: 2 }, { ...otherSam, devices: 1 }, { ...bob, devices: 1 }], ...extra });
}

async function online(history: object[] = [], extra: object = {}) {
  window.localStorage.setItem('distchat.name', 'Sam');
  const r = render(<App />);
  const ws = await socket();
  act(() => {
    ws.open();
    ws.receive(idWelcome('general', history, extra));
  });
  return { ...r, ws };
}

function onlineEntries() {
  return screen.getAllByTestId('online-user').map((li) => li.textContent);
}

describe('App with identity: two people called Sam', () => {
  it('tells them apart everywhere and treats only my own messages as mine', async () => {
    await online([msg('general', 1, otherSam, 'from the other Sam'), msg('general', 2, sam, 'from my phone')]);
    expect(onlineEntries()).toEqual(['SSam · k3you2 devices', 'BBob', 'SSam · 3f']);
    expect(screen.getByTestId('online-count').textContent).toBe('3');
    expect(document.querySelector('.chat-count')?.textContent).toBe('3 people here');
    const [theirs, mine] = screen.getAllByTestId('message');
    expect(theirs.dataset.own).toBe('false');
    expect(within(theirs).getByTestId('message-author').textContent).toBe('Sam · 3f');
    expect(within(theirs).queryByLabelText('Sent')).toBeNull();
    expect(mine.dataset.own).toBe('true');
    expect(within(mine).getByLabelText('Sent')).toBeTruthy();
  });

  it('names the other Sam apart when typing and in the mention list', async () => {
    const { ws } = await online();
    act(() => ws.receive({ type: 'typing', room: 'general', user: otherSam }));
    expect(screen.getByTestId('typing-indicator').textContent).toBe('Sam · 3f is typing…');
    const input = screen.getByTestId('composer-input') as HTMLTextAreaElement;
    fireEvent.change(input, { target: { value: '@sa', selectionStart: 3 } });
    fireEvent.select(input);
    expect(screen.getAllByTestId('mention-option').map((o) => o.textContent)).toEqual(['SSam · 3f']);
    fireEvent.keyDown(input, { key: 'Enter' });
    expect(input.value).toBe('@Sam ');
  });
});

describe('App with identity: renames', () => {
  it('shows one notice, updates the online list in place, and gives earlier messages the new name', async () => {
    const { ws } = await online([msg('general', 1, bob, 'hello from Bob')]);
    act(() => ws.receive({ type: 'rename', room: 'general', user: { id: bob.id, name: 'Robert' }, old: 'Bob', ts: 1_764_000_100_000 }));
    expect(screen.getAllByTestId('notice').map((n) => n.textContent?.replace(/\d.*$/, ''))).toEqual(['Bob is now Robert']);
    expect(onlineEntries()).toEqual(['SSam · k3you2 devices', 'RRobert', 'SSam · 3f']);
    const author = within(screen.getAllByTestId('message')[0]).getByTestId('message-author');
    expect(author.textContent).toBe('Robert');
    expect(author.getAttribute('title')).toBe('Robert (was Bob)');
  });

  it('renames in place from the dialog: waits for the ack, remembers the name, no reconnect', async () => {
    const { ws } = await online();
    fireEvent.click(screen.getByTestId('me-button'));
    fireEvent.change(screen.getByTestId('name-input'), { target: { value: 'Samuel' } });
    fireEvent.click(screen.getByTestId('name-submit'));
    const [f] = ws.framesOfType('rename');
    expect(f).toMatchObject({ name: 'Samuel' });
    expect(screen.getByTestId('name-submit').textContent).toBe('Saving…');
    act(() => ws.receive({ type: 'ack', ref: f.ref }));
    expect(screen.queryByTestId('name-dialog')).toBeNull();
    expect(screen.getByTestId('me-name').textContent).toBe('Samuel');
    expect(window.localStorage.getItem('distchat.name')).toBe('Samuel');
    expect(FakeWebSocket.instances).toHaveLength(1);
  });

  it('keeps the dialog open with the server’s reason when it refuses the name', async () => {
    const { ws } = await online();
    fireEvent.click(screen.getByTestId('me-button'));
    fireEvent.change(screen.getByTestId('name-input'), { target: { value: 'Admin' } });
    fireEvent.click(screen.getByTestId('name-submit'));
    const [f] = ws.framesOfType('rename');
    act(() => ws.receive({ type: 'error', code: 'invalid_name', message: 'that name is reserved', ref: f.ref }));
    expect(screen.getByTestId('name-error').textContent).toBe('that name is reserved');
    expect(screen.getByTestId('me-name').textContent).toBe('Sam');
    expect(window.localStorage.getItem('distchat.name')).toBe('Sam');
  });

  it('follows a rename made on another device', async () => {
    const { ws } = await online();
    act(() => ws.receive({ type: 'user', user: { id: sam.id, name: 'Sammy' } }));
    expect(screen.getByTestId('me-name').textContent).toBe('Sammy');
    expect(window.localStorage.getItem('distchat.name')).toBe('Sammy');
  });
});

describe('App with identity: direct messages', () => {
  it('opens a DM from the online list and shows it under "Direct messages"', async () => {
    const { ws } = await online();
    expect(screen.getByTestId('dm-empty')).toBeTruthy();
    const bobEntry = screen.getAllByTestId('online-person').find((b) => b.textContent?.includes('Bob'))!;
    fireEvent.click(bobEntry);
    fireEvent.click(screen.getByTestId('menu-dm'));
    const [f] = ws.framesOfType('dm');
    expect(f).toMatchObject({ user: bob.id });
    act(() => ws.receive({ type: 'joined', room: 'dm-k3b0', dm: bob, online: [sam, bob], history: [], ref: f.ref }));
    expect(window.location.pathname).toBe('/r/dm-k3b0');
    expect(screen.getByTestId('room-title').textContent).toBe('BBob');
    expect(screen.getByTestId('composer-input').getAttribute('placeholder')).toBe('Message Bob');
    expect(screen.getAllByTestId('dm-link').map((a) => a.textContent)).toEqual(['BBob']);
    // Not among the rooms.
    expect(screen.getAllByTestId('room-link').map((a) => a.dataset.room)).toEqual(['general']);
  });

  it('opens the DM from a message author’s menu too', async () => {
    const { ws } = await online([msg('general', 1, bob, 'hi')], { dms: [{ room: 'dm-k3b0', user: bob }] });
    fireEvent.click(within(screen.getAllByTestId('message')[0]).getByTestId('message-author'));
    fireEvent.click(screen.getByTestId('menu-dm'));
    // The DM exists already: opened, not asked for.
    expect(ws.framesOfType('dm')).toEqual([]);
    expect(window.location.pathname).toBe('/r/dm-k3b0');
  });

  it('adds a DM someone opened, with an unread badge for its messages', async () => {
    const { ws } = await online();
    act(() => ws.receive({ type: 'dm', room: 'dm-3f', user: otherSam }));
    const j = ws.framesOfType('join').find((x) => x.room === 'dm-3f')!;
    act(() => ws.receive({ type: 'joined', room: 'dm-3f', dm: otherSam, history: [], ref: j.ref }, msg('dm-3f', 9, otherSam, 'psst')));
    const link = screen.getByTestId('dm-link');
    expect(link.textContent).toBe('SSam · 3f1');
    expect(within(link).getByTestId('dm-unread').textContent).toBe('1');
  });

  it('hides the conversation shown with its button: gone from the list at once, and #general shown', async () => {
    const { ws } = await online([], { dms: [{ room: 'dm-k3b0', user: bob }, { room: 'dm-3f', user: otherSam }] });
    fireEvent.click(screen.getAllByTestId('dm-link').find((a) => a.dataset.room === 'dm-k3b0')!);
    expect(window.location.pathname).toBe('/r/dm-k3b0');
    const hide = screen.getByLabelText('Hide conversation with Bob');
    expect(hide.dataset.testid).toBe('dm-hide');
    fireEvent.click(hide);
    expect(ws.framesOfType('leave')).toMatchObject([{ type: 'leave', room: 'dm-k3b0', hide: true }]);
    expect(screen.getAllByTestId('dm-link').map((a) => a.dataset.room)).toEqual(['dm-3f']);
    expect(window.location.pathname).toBe('/r/general');
    expect(screen.getByTestId('room-title').textContent).toBe('#general');
    // Undone by opening it again from the online list.
    fireEvent.click(screen.getAllByTestId('online-person').find((b) => b.textContent?.includes('Bob'))!);
    fireEvent.click(screen.getByTestId('menu-dm'));
    const [f] = ws.framesOfType('dm');
    expect(f).toMatchObject({ user: bob.id });
    act(() => ws.receive({ type: 'left', room: 'dm-k3b0', ref: ws.framesOfType('leave')[0].ref }, { type: 'joined', room: 'dm-k3b0', dm: bob, online: [sam, bob], history: [], ref: f.ref }));
    expect(window.location.pathname).toBe('/r/dm-k3b0');
    expect(screen.getAllByTestId('dm-link').map((a) => a.dataset.room).sort()).toEqual(['dm-3f', 'dm-k3b0']);
  });

  it('hides a conversation from its menu (right click, the menu key, or a long press on touch) without leaving the room shown', async () => {
    const { ws } = await online([], { dms: [{ room: 'dm-k3b0', user: bob }, { room: 'dm-3f', user: otherSam }] });
    const link = () => screen.getAllByTestId('dm-link').find((a) => a.dataset.room === 'dm-3f')!;
    fireEvent.contextMenu(link());
    expect(screen.getByTestId('dm-menu').getAttribute('aria-label')).toBe('Sam · 3f');
    fireEvent.keyDown(document.activeElement!, { key: 'Escape' });
    expect(screen.queryByTestId('dm-menu')).toBeNull();
    fireEvent.keyDown(link(), { key: 'F10', shiftKey: true });
    expect(screen.getByTestId('dm-menu')).toBeTruthy();
    fireEvent.keyDown(document.activeElement!, { key: 'Escape' });

    vi.useFakeTimers();
    try {
      fireEvent.touchStart(link(), { touches: [{ clientX: 10, clientY: 10 }] });
      act(() => vi.advanceTimersByTime(300));
      expect(screen.queryByTestId('dm-menu')).toBeNull();
      act(() => vi.advanceTimersByTime(300));
      fireEvent.touchEnd(link());
      // The tap that ends the long press opens nothing.
      fireEvent.click(link());
      expect(window.location.pathname).toBe('/');
      fireEvent.click(screen.getByTestId('menu-hide'));
    } finally {
      vi.useRealTimers();
    }
    expect(ws.framesOfType('leave')).toMatchObject([{ room: 'dm-3f', hide: true }]);
    expect(screen.getAllByTestId('dm-link').map((a) => a.dataset.room)).toEqual(['dm-k3b0']);
    expect(screen.getByTestId('room-title').textContent).toBe('#general');
  });

  it('says next to the person why a DM cannot be opened, and leaves nothing waiting', async () => {
    const carol = { id: 'c4r01000', name: 'Carol' };
    const { ws } = await online([msg('general', 1, carol, 'I was here')]);
    // Carol wrote here, but has left every room the user is in.
    fireEvent.click(within(screen.getAllByTestId('message')[0]).getByTestId('message-author'));
    fireEvent.click(screen.getByTestId('menu-dm'));
    const [f] = ws.framesOfType('dm');
    act(() => ws.receive({ type: 'error', code: 'forbidden', message: 'you can write to people you share a room with', ref: f.ref }));
    const note = screen.getByTestId('dm-note');
    expect(note.getAttribute('role')).toBe('status');
    expect(note.getAttribute('aria-label')).toBe('Cannot message Carol');
    expect(screen.getByTestId('dm-note-text').textContent).toBe('Carol is not in a room with you right now. You can message people who share a room with you.');
    expect(screen.queryByTestId('toast')).toBeNull();
    fireEvent.click(screen.getByTestId('dm-note-dismiss'));
    expect(screen.queryByTestId('dm-note')).toBeNull();
    // Nothing waits for the conversation: when Carol opens one later, the view stays.
    act(() => ws.receive({ type: 'dm', room: 'dm-c4', user: carol }));
    const j = ws.framesOfType('join').find((x) => x.room === 'dm-c4')!;
    act(() => ws.receive({ type: 'joined', room: 'dm-c4', dm: carol, history: [], ref: j.ref }));
    expect(window.location.pathname).toBe('/');
    expect(screen.getAllByTestId('dm-link').map((a) => a.dataset.room)).toEqual(['dm-c4']);
  });

  it('says the server’s words when a list of conversations is full', async () => {
    const { ws } = await online();
    fireEvent.click(screen.getAllByTestId('online-person').find((b) => b.textContent?.includes('Bob'))!);
    fireEvent.click(screen.getByTestId('menu-dm'));
    const [f] = ws.framesOfType('dm');
    act(() => ws.receive({ type: 'error', code: 'limit_exceeded', message: 'Bob has 500 conversations, the most (--max-dms)', ref: f.ref }));
    expect(screen.getByTestId('dm-note-text').textContent).toBe('Bob has 500 conversations, the most (--max-dms)');
    // Escape closes it.
    fireEvent.keyDown(document.body, { key: 'Escape' });
    expect(screen.queryByTestId('dm-note')).toBeNull();
  });

  it('says a DM that is not yours is private, and keeps it out of the sidebar', async () => {
    window.localStorage.setItem('distchat.name', 'Sam');
    window.history.replaceState(null, '', '/r/dm-theirs');
    render(<App />);
    const ws = await socket();
    expect(new URL(ws.url).searchParams.get('room')).toBe('general');
    act(() => {
      ws.open();
      ws.receive(idWelcome('general'));
    });
    const j = ws.framesOfType('join').find((x) => x.room === 'dm-theirs')!;
    act(() => ws.receive({ type: 'error', code: 'forbidden', message: 'not a member of this conversation', ref: j.ref }));
    expect(screen.getByTestId('forbidden').textContent).toContain('This conversation is private');
    expect(screen.queryByTestId('dm-link')).toBeNull();
    expect(screen.queryByTestId('message-list')).toBeNull();
    fireEvent.click(screen.getByTestId('forbidden-general'));
    expect(window.location.pathname).toBe('/r/general');
  });
});

describe('App with identity: read positions', () => {
  it('shows unread counts from the server and a "New messages" divider on opening the room', async () => {
    const { ws } = await online([msg('general', 1, bob)]);
    fireEvent.click(screen.getByTestId('browse-rooms'));
    fireEvent.change(screen.getByTestId('room-input'), { target: { value: 'dev' } });
    fireEvent.click(await screen.findByTestId('room-create'));
    const j = ws.framesOfType('join').find((x) => x.room === 'dev')!;
    // Back in #general before #dev answers: its position comes while it is not shown.
    fireEvent.click(screen.getAllByTestId('room-link').find((a) => a.dataset.room === 'general')!);
    act(() => {
      ws.receive({ type: 'joined', room: 'dev', history: [msg('dev', 10, bob, 'old'), msg('dev', 11, bob, 'new one'), msg('dev', 12, bob, 'new two')], ref: j.ref });
      ws.receive({ type: 'read', room: 'dev', seq: 10, unread: 2 });
    });
    const dev = screen.getAllByTestId('room-link').find((a) => a.dataset.room === 'dev')!;
    expect(within(dev).getByTestId('room-unread').textContent).toBe('2');
    fireEvent.click(dev);
    const list = screen.getByTestId('message-list');
    const order = Array.from(list.querySelectorAll('[data-testid="message"], [data-testid="new-divider"]')).map((el) => (el.getAttribute('data-testid') === 'new-divider' ? '---' : el.getAttribute('data-seq')));
    expect(order).toEqual(['10', '---', '11', '12']);
    // Seen at the bottom: the position goes to the server.
    expect(ws.framesOfType('read')).toContainEqual({ type: 'read', room: 'dev', seq: 12 });
  });
});

describe('App: the session', () => {
  it('exchanges a ?token= of the page URL for the cookie, then connects without a token and without asking for a name', async () => {
    const api = fakeSessionApi({ user: { id: 'u-9', name: 'Ada' } });
    vi.stubGlobal('fetch', api.fetch);
    window.history.replaceState(null, '', '/r/dev?token=host-signed&lang=en');
    render(<App />);
    expect(screen.queryByTestId('name-dialog')).toBeNull();
    expect(window.location.search).toBe('?lang=en');
    const ws = await socket();
    expect(api.calls).toMatchObject([{ method: 'POST', url: '/api/session', authorization: 'Bearer host-signed' }]);
    const q = new URL(ws.url).searchParams;
    expect(q.has('token')).toBe(false);
    expect(q.has('name')).toBe(false);
    expect(window.localStorage.getItem('distchat.token')).toBeNull();
    act(() => {
      ws.open();
      ws.receive(welcome('dev', { id: 'u-9', name: 'Ada' }, [], { user: { id: 'u-9', name: 'Ada' }, token: 'renewed' }));
    });
    expect(screen.getByTestId('me-name').textContent).toBe('Ada');
    expect(window.localStorage.getItem('distchat.name')).toBe('Ada');
    expect(window.localStorage.getItem('distchat.token')).toBeNull();
  });

  it('shows the sign-in screen when the server accepts no guests, and "Try again" exchanges the host page’s new token', async () => {
    const api = fakeSessionApi();
    vi.stubGlobal('fetch', api.fetch);
    window.localStorage.setItem('distchat.name', 'Sam');
    render(<App />);
    // The first refusal may be of a cookie the server has cleared: once more, as a guest.
    for (const n of [1, 2]) {
      const ws = await socket(n);
      act(() => {
        ws.open();
        ws.receive({ type: 'error', code: 'unauthorized', message: 'sign in at intranet' });
        ws.serverClose(1008);
      });
    }
    expect(screen.getByTestId('signin-needed').textContent).toContain('sign in at intranet');
    window.localStorage.setItem('distchat.token', 'fresh');
    fireEvent.click(screen.getByTestId('signin-retry'));
    const ws = await socket(3);
    expect(new URL(ws.url).searchParams.has('token')).toBe(false);
    expect(api.calls).toMatchObject([{ method: 'POST', authorization: 'Bearer fresh' }]);
  });

  it('signs out from the settings after a confirmation that says what it means, and is a new guest', async () => {
    const api = fakeSessionApi();
    vi.stubGlobal('fetch', api.fetch);
    const { ws } = await online([], { dms: [{ room: 'dm-k3b0', user: bob }] });
    fireEvent.click(screen.getByTestId('settings-button'));
    fireEvent.click(screen.getByTestId('menu-sign-out'));
    const dialog = screen.getByTestId('confirm-dialog');
    expect(dialog.textContent).toContain('You will be a new person here: your direct messages and unread positions stay with the old identity, Sam.');
    // Cancel is the safe choice, and where the focus starts.
    expect(document.activeElement).toBe(screen.getByTestId('confirm-cancel'));
    fireEvent.click(screen.getByTestId('confirm-cancel'));
    expect(api.calls).toEqual([]);
    expect(FakeWebSocket.instances).toHaveLength(1);

    fireEvent.click(screen.getByTestId('settings-button'));
    fireEvent.click(screen.getByTestId('menu-sign-out'));
    fireEvent.click(screen.getByTestId('confirm-ok'));
    const ws2 = await socket(2);
    expect(api.calls.map((c) => c.method)).toEqual(['DELETE']);
    expect(ws.closedByClient).not.toBeNull();
    expect(screen.queryByTestId('dm-link')).toBeNull();
    const guest = { id: 'g-1', name: 'Sam' };
    act(() => {
      ws2.open();
      ws2.receive(welcome('general', guest, [], { user: guest, online: [{ ...guest, devices: 1 }] }));
    });
    expect(screen.getByTestId('toast').textContent).toBe(`!Signed out${SIGNED_OUT}`);
    expect(screen.getByTestId('dm-empty')).toBeTruthy();
  });

  it('signs out everywhere from the settings after a confirmation that says it ends every device’s session', async () => {
    const api = fakeSessionApi();
    vi.stubGlobal('fetch', api.fetch);
    const { ws } = await online([], { dms: [{ room: 'dm-k3b0', user: bob }] });
    fireEvent.click(screen.getByTestId('settings-button'));
    expect(screen.getByTestId('menu-sign-out-everywhere').textContent).toBe('Sign out everywhereEnd your session on every device');
    fireEvent.click(screen.getByTestId('menu-sign-out-everywhere'));
    const dialog = screen.getByTestId('confirm-dialog');
    expect(within(dialog).getByRole('heading').textContent).toBe('Sign out everywhere?');
    expect(dialog.textContent).toContain('This ends your session on every device and browser where you are Sam, this one included. Each of them continues as a new guest.');
    expect(document.activeElement).toBe(screen.getByTestId('confirm-cancel'));
    expect(screen.getByTestId('confirm-ok').textContent).toBe('Sign out everywhere');
    fireEvent.click(screen.getByTestId('confirm-ok'));
    const ws2 = await socket(2);
    expect(api.calls.map((c) => `${c.method} ${c.url}`)).toEqual(['DELETE /api/session?everywhere=true']);
    expect(ws.closedByClient).not.toBeNull();
    const guest = { id: 'g-2', name: 'Sam' };
    act(() => {
      ws2.open();
      ws2.receive(welcome('general', guest, [], { user: guest, online: [{ ...guest, devices: 1 }], dms: null }));
    });
    expect(screen.getByTestId('toast').textContent).toBe(`!Signed out${SIGNED_OUT_EVERYWHERE}`);
    expect(screen.getByTestId('dm-empty')).toBeTruthy();
  });

  it('a session the server ends while a conversation is shown: #general, a new guest, and one toast that says it was ended', async () => {
    const { ws } = await online([], { dms: [{ room: 'dm-k3b0', user: bob }] });
    fireEvent.click(screen.getByTestId('dm-link'));
    expect(window.location.pathname).toBe('/r/dm-k3b0');
    act(() => {
      ws.receive({ type: 'error', code: 'unauthorized', message: 'your sessions were ended; sign in again' });
      ws.serverClose(1008);
    });
    expect(window.location.pathname).toBe('/r/general');
    expect(screen.queryByTestId('dm-link')).toBeNull();
    const ws2 = await socket(2);
    expect(new URL(ws2.url).searchParams.get('room')).toBe('general');
    const guest = { id: 'g-3', name: 'Sam' };
    act(() => {
      ws2.open();
      ws2.receive(welcome('general', guest, [], { user: guest, online: [{ ...guest, devices: 1 }], dms: null }));
    });
    expect(screen.getAllByTestId('toast').map((t) => t.textContent)).toEqual([`!Session ended${SESSION_ENDED}`]);
    expect(screen.queryByTestId('signin-needed')).toBeNull();
  });

  it('offers no sign-out with an older server (no identity, no session)', async () => {
    window.localStorage.setItem('distchat.name', 'Sam');
    render(<App />);
    const ws = await socket();
    act(() => {
      ws.open();
      ws.receive(welcome('general', { id: 'c1', name: 'Sam' }));
    });
    fireEvent.click(screen.getByTestId('settings-button'));
    expect(screen.getByTestId('settings-menu')).toBeTruthy();
    expect(screen.queryByTestId('menu-sign-out')).toBeNull();
    expect(screen.queryByTestId('menu-sign-out-everywhere')).toBeNull();
  });
});

describe('App with an older server (no welcome.user)', () => {
  it('keeps today’s screens: no DM section, people by name, no person menus', async () => {
    window.localStorage.setItem('distchat.name', 'Sam');
    render(<App />);
    const ws = await socket();
    act(() => {
      ws.open();
      ws.receive(welcome('general', { id: 'c1', name: 'Sam' }, [msg('general', 1, { id: 'c7', name: 'Sam' }, 'hi')], { online: [{ id: 'c1', name: 'Sam' }, { id: 'c2', name: 'Sam' }, bob] }));
    });
    expect(screen.queryByText('Direct messages')).toBeNull();
    expect(screen.queryByTestId('online-person')).toBeNull();
    expect(onlineEntries()).toEqual(['SSamyou×2', 'BBob']);
    const m = screen.getAllByTestId('message')[0];
    expect(m.dataset.own).toBe('true');
    expect(within(m).getByTestId('message-author').tagName).toBe('SPAN');
  });
});
