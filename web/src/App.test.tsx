import { act, fireEvent, render, screen, within } from '@testing-library/react';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { App } from './App';
import { FakeWebSocket, msg, welcome } from './test/fakeWebSocket';
import { socket, stubWebSocketInEachTest } from './test/harness';

stubWebSocketInEachTest();

function named(ws: FakeWebSocket): string | null {
  return new URL(ws.url).searchParams.get('name');
}

describe('App', () => {
  it('asks for a name once, validates it, and remembers it', async () => {
    const { unmount } = render(<App />);
    const input = screen.getByTestId('name-input');
    fireEvent.change(input, { target: { value: '   ' } });
    fireEvent.click(screen.getByTestId('name-submit'));
    expect(screen.getByTestId('name-error').textContent).toBe('Please enter a name.');
    expect(FakeWebSocket.instances).toHaveLength(0);

    fireEvent.change(input, { target: { value: ' alice ' } });
    fireEvent.click(screen.getByTestId('name-submit'));
    const ws = await socket();
    expect(named(ws)).toBe('alice');
    expect(window.localStorage.getItem('distchat.name')).toBe('alice');
    unmount();

    render(<App />);
    expect(screen.queryByTestId('name-dialog')).toBeNull();
    expect(named(await socket(2))).toBe('alice');
  });

  it('lets people write while connecting, says why nothing goes out yet, and sends on welcome', async () => {
    window.localStorage.setItem('distchat.name', 'alice');
    render(<App />);
    const ws = await socket();
    const input = screen.getByTestId('composer-input') as HTMLTextAreaElement;
    expect(input.disabled).toBe(false);
    expect(screen.getByTestId('composer-reason').textContent).toContain('Connecting');
    expect(screen.getByTestId('connection-status').dataset.status).toBe('connecting');
    fireEvent.change(input, { target: { value: 'early bird' } });
    fireEvent.keyDown(input, { key: 'Enter' });
    expect(screen.getAllByTestId('message').map((m) => m.dataset.status)).toEqual(['pending']);
    act(() => {
      ws.open();
      ws.receive(welcome('general', { id: 'u1', name: 'alice' }, [msg('general', 1, { id: 'u2', name: 'bob' }, 'hi alice')]));
    });
    expect(screen.queryByTestId('composer-reason')).toBeNull();
    expect(screen.getByTestId('connection-status').dataset.status).toBe('online');
    expect(screen.getAllByTestId('message-body')[0].textContent).toBe('hi alice');
    expect(ws.framesOfType('message').map((f) => f.body)).toEqual(['early bird']);
  });

  it('joins the room named in the URL', async () => {
    window.localStorage.setItem('distchat.name', 'alice');
    window.history.replaceState(null, '', '/r/dev-ops');
    render(<App />);
    const ws = await socket();
    expect(new URL(ws.url).searchParams.get('room')).toBe('dev-ops');
    expect(screen.getByTestId('room-title').textContent).toBe('#dev-ops');
  });

  it('asks for another name when the server refuses it (1008), without retrying', async () => {
    window.localStorage.setItem('distchat.name', 'alice');
    render(<App />);
    const ws = await socket();
    act(() => {
      ws.open();
      ws.receive({ type: 'error', code: 'invalid_name', message: 'that name is not allowed' });
      ws.serverClose(1008);
    });
    expect(screen.getByTestId('name-error').textContent).toBe('that name is not allowed');
    expect(screen.getByTestId('connection-status').dataset.status).toBe('offline');
    fireEvent.change(screen.getByTestId('name-input'), { target: { value: 'alicia' } });
    fireEvent.click(screen.getByTestId('name-submit'));
    expect(named(await socket(2))).toBe('alicia');
  });

  it('changes the name from the sidebar', async () => {
    window.localStorage.setItem('distchat.name', 'alice');
    render(<App />);
    const ws = await socket();
    act(() => {
      ws.open();
      ws.receive(welcome('general', { id: 'u1', name: 'alice' }));
    });
    fireEvent.click(screen.getByTestId('me-button'));
    fireEvent.change(screen.getByTestId('name-input'), { target: { value: 'Alice B' } });
    fireEvent.click(screen.getByTestId('name-submit'));
    expect(named(await socket(2))).toBe('Alice B');
    expect(window.localStorage.getItem('distchat.name')).toBe('Alice B');
  });

  it('shows errors without a ref as dismissible toasts', async () => {
    window.localStorage.setItem('distchat.name', 'alice');
    render(<App />);
    const ws = await socket();
    act(() => {
      ws.open();
      ws.receive(welcome('general', { id: 'u1', name: 'alice' }));
      ws.receive({ type: 'error', code: 'rate_limited', message: 'too many messages: 10/s' });
    });
    expect(screen.getByTestId('toast').textContent).toContain('too many messages: 10/s');
    fireEvent.click(screen.getByTestId('toast-dismiss'));
    expect(screen.queryByTestId('toast')).toBeNull();
  });

  it('counts a small room by name and a large one by its member count', async () => {
    window.localStorage.setItem('distchat.name', 'alice');
    const { container } = render(<App />);
    const here = () => container.querySelector('.chat-count')?.textContent;
    const ws = await socket();
    const me = { id: 'u1', name: 'alice' };
    const bob = { id: 'u2', name: 'bob' };
    act(() => {
      ws.open();
      ws.receive(welcome('general', me, [], { online: [me, { id: 'u3', name: 'alice' }, bob], online_count: 3 }));
    });
    expect(here()).toBe('2 people here');
    expect(screen.getByTestId('online-count').textContent).toBe('2');
    expect(screen.queryByTestId('online-more')).toBeNull();

    act(() => ws.receive({ type: 'leave', room: 'general', user: bob, ts: 1 }));
    expect(here()).toBe('1 person here');

    const listed = Array.from({ length: 100 }, (_, i) => ({ id: `l${i}`, name: `user${i}` }));
    act(() => ws.receive({ type: 'presence', room: 'general', online: listed, online_count: 150 }));
    expect(here()).toBe('150 people here');
    expect(screen.getByTestId('online-count').textContent).toBe('150');
    expect(screen.getAllByTestId('online-user')).toHaveLength(100);
    expect(screen.getByTestId('online-more').textContent).toBe('and 50 more');

    act(() => ws.receive({ type: 'online_count', room: 'general', count: 1234 }));
    expect(here()).toBe('1234 people here');
    expect(screen.getByTestId('online-more').textContent).toBe('and 1134 more');
  });

  it('switches rooms through the URL and follows back/forward', async () => {
    window.localStorage.setItem('distchat.name', 'alice');
    render(<App />);
    const ws = await socket();
    act(() => {
      ws.open();
      ws.receive(welcome('general', { id: 'u1', name: 'alice' }));
    });
    fireEvent.click(screen.getByTestId('browse-rooms'));
    fireEvent.change(screen.getByTestId('room-input'), { target: { value: 'Design' } });
    fireEvent.click(await screen.findByTestId('room-create'));
    expect(window.location.pathname).toBe('/r/design');
    expect(screen.getByTestId('room-title').textContent).toBe('#design');
    expect(ws.framesOfType('join').map((f) => f.room)).toEqual(['design']);

    act(() => {
      window.history.replaceState(null, '', '/r/general');
      window.dispatchEvent(new PopStateEvent('popstate'));
    });
    expect(screen.getByTestId('room-title').textContent).toBe('#general');
  });
});

describe('App: conversation features', () => {
  const alice = { id: 'u1', name: 'alice' };
  const bob = { id: 'u2', name: 'bob' };

  async function online(history: object[] = [], extra: object = {}) {
    window.localStorage.setItem('distchat.name', 'alice');
    const r = render(<App />);
    const ws = await socket();
    act(() => {
      ws.open();
      ws.receive(welcome('general', alice, history, { online: [alice, bob], ...extra }));
    });
    return { ...r, ws };
  }

  function setHidden(hidden: boolean) {
    Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => (hidden ? 'hidden' : 'visible') });
    act(() => {
      document.dispatchEvent(new Event('visibilitychange'));
    });
  }

  afterEach(() => {
    setHidden(false);
  });

  it('says so for an invalid room URL instead of showing #general', async () => {
    window.localStorage.setItem('distchat.name', 'alice');
    window.history.replaceState(null, '', '/r/Not%20A%20Room');
    render(<App />);
    const ws = await socket();
    expect(new URL(ws.url).searchParams.get('room')).toBe('general');
    const panel = screen.getByTestId('invalid-room');
    expect(panel.textContent).toContain('“Not A Room” is not a room name');
    expect(screen.getByTestId('room-title').textContent).toBe('Room not found');
    expect(screen.queryByTestId('message-list')).toBeNull();
    fireEvent.click(screen.getByTestId('invalid-room-suggestion'));
    expect(window.location.pathname).toBe('/r/not-a-room');
    expect(screen.getByTestId('room-title').textContent).toBe('#not-a-room');
  });

  it('counts messages that arrive while the tab is hidden in the title, and clears it on return', async () => {
    const { ws } = await online();
    expect(document.title).toBe('#general · distchat');
    setHidden(true);
    act(() => ws.receive(msg('general', 1, bob, 'one'), msg('general', 2, bob, 'two'), msg('general', 3, bob, 'three')));
    expect(document.title).toBe('(3) #general · distchat');
    setHidden(false);
    expect(document.title).toBe('#general · distchat');
  });

  it('shows a mention badge apart from the unread count for another room', async () => {
    const { ws } = await online();
    fireEvent.click(screen.getByTestId('browse-rooms'));
    fireEvent.change(screen.getByTestId('room-input'), { target: { value: 'dev' } });
    fireEvent.click(await screen.findByTestId('room-create'));
    const j = ws.framesOfType('join')[0];
    act(() => ws.receive({ type: 'joined', room: 'dev', history: [], ref: j.ref }));
    act(() => ws.receive(msg('general', 1, bob, 'hello'), msg('general', 2, bob, '@alice look')));
    const link = screen.getAllByTestId('room-link').find((a) => a.dataset.room === 'general')!;
    expect(link.querySelector('[data-testid="room-unread"]')?.textContent).toBe('2');
    expect(link.querySelector('[data-testid="room-mentions"]')?.textContent).toBe('@1');
  });

  it('edits the last own message with ArrowUp and deletes after asking', async () => {
    const { ws } = await online([msg('general', 1, alice, 'my first'), msg('general', 2, alice, 'my lsat'), msg('general', 3, bob, 'theirs')]);
    const input = screen.getByTestId('composer-input');
    fireEvent.keyDown(input, { key: 'ArrowUp' });
    const editor = screen.getByTestId('message-editor-input') as HTMLTextAreaElement;
    expect(editor.value).toBe('my lsat');
    fireEvent.change(editor, { target: { value: 'my last' } });
    fireEvent.keyDown(editor, { key: 'Enter' });
    expect(ws.framesOfType('edit')).toMatchObject([{ room: 'general', id: 'general-m2', body: 'my last' }]);
    expect(screen.getAllByTestId('message-body')[1].textContent).toBe('my last');

    const first = screen.getAllByTestId('message')[0];
    fireEvent.click(within(first).getByTestId('action-delete'));
    fireEvent.click(screen.getByTestId('confirm-cancel'));
    expect(ws.framesOfType('delete')).toEqual([]);
    fireEvent.click(within(first).getByTestId('action-delete'));
    fireEvent.click(screen.getByTestId('confirm-ok'));
    expect(ws.framesOfType('delete')).toMatchObject([{ room: 'general', id: 'general-m1' }]);
    expect(within(screen.getAllByTestId('message')[0]).getByTestId('message-deleted')).toBeTruthy();
  });

  it('shows the topic in the header and lets members change it', async () => {
    const { ws } = await online([], { topic: 'Weekly planning' });
    const topic = screen.getByTestId('room-topic');
    expect(topic.textContent).toBe('Weekly planning');
    fireEvent.click(topic);
    const input = screen.getByTestId('topic-input');
    fireEvent.change(input, { target: { value: 'Release week 🚀' } });
    fireEvent.submit(input.closest('form')!);
    expect(ws.framesOfType('topic')).toMatchObject([{ room: 'general', body: 'Release week 🚀' }]);
    act(() => ws.receive({ type: 'topic', room: 'general', seq: 9, body: 'Release week 🚀', ts: 1_764_000_009_000, user: alice }));
    expect(screen.getByTestId('room-topic').textContent).toBe('Release week 🚀');
    expect(screen.getAllByTestId('notice').map((n) => n.dataset.kind)).toContain('topic');
  });

  it('offers desktop notifications after the user writes, never on load, and notifies mentions while hidden', async () => {
    const shown: { title: string; options: NotificationOptions }[] = [];
    const Fake = Object.assign(
      function (this: object, title: string, options: NotificationOptions) {
        shown.push({ title, options });
      } as unknown as typeof Notification,
      {
        permission: 'default' as NotificationPermission,
        requestPermission: vi.fn(async () => {
          Fake.permission = 'granted';
          return 'granted' as NotificationPermission;
        }),
      },
    );
    vi.stubGlobal('Notification', Fake);
    const { ws } = await online();
    expect(screen.queryByTestId('notify-banner')).toBeNull();
    expect(Fake.requestPermission).not.toHaveBeenCalled();

    const input = screen.getByTestId('composer-input');
    fireEvent.change(input, { target: { value: 'hello' } });
    fireEvent.keyDown(input, { key: 'Enter' });
    expect(screen.getByTestId('notify-banner')).toBeTruthy();
    await act(async () => {
      fireEvent.click(screen.getByTestId('notify-enable'));
    });
    expect(Fake.requestPermission).toHaveBeenCalledOnce();
    expect(screen.queryByTestId('notify-banner')).toBeNull();

    setHidden(true);
    act(() => ws.receive(msg('general', 5, bob, 'hey @alice, ready?'), msg('general', 6, bob, 'no mention')));
    expect(shown.map((n) => n.title)).toEqual(['bob mentioned you in #general']);

    // Turned off in the settings menu (kept in localStorage): no more notifications.
    fireEvent.click(screen.getByTestId('settings-button'));
    fireEvent.click(screen.getByTestId('menu-notifications'));
    expect(JSON.parse(window.localStorage.getItem('distchat.settings')!)).toMatchObject({ notifications: false });
    act(() => ws.receive(msg('general', 7, bob, '@alice again')));
    expect(shown).toHaveLength(1);
  });

  it('remembers "Not now" for the notification offer', async () => {
    vi.stubGlobal('Notification', Object.assign(function () {}, { permission: 'default', requestPermission: vi.fn() }));
    await online();
    const input = screen.getByTestId('composer-input');
    fireEvent.change(input, { target: { value: 'hello' } });
    fireEvent.keyDown(input, { key: 'Enter' });
    fireEvent.click(screen.getByTestId('notify-dismiss'));
    expect(screen.queryByTestId('notify-banner')).toBeNull();
    expect(window.localStorage.getItem('distchat.notify-banner')).toBe('dismissed');
  });
});
