import { act, fireEvent, render, screen, waitFor } from '@testing-library/react';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { App } from './App';
import { FakeWebSocket, msg, welcome } from './test/fakeWebSocket';

beforeEach(() => {
  FakeWebSocket.reset();
  vi.stubGlobal('WebSocket', FakeWebSocket);
  window.history.replaceState(null, '', '/');
});

afterEach(() => {
  vi.unstubAllGlobals();
});

async function socket(n = 1): Promise<FakeWebSocket> {
  await waitFor(() => expect(FakeWebSocket.instances).toHaveLength(n));
  return FakeWebSocket.last();
}

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

  it('keeps the composer disabled with a reason until the welcome, then enables it', async () => {
    window.localStorage.setItem('distchat.name', 'alice');
    render(<App />);
    const ws = await socket();
    expect((screen.getByTestId('composer-input') as HTMLTextAreaElement).disabled).toBe(true);
    expect(screen.getByTestId('composer-reason').textContent).toContain('Connecting');
    expect(screen.getByTestId('connection-status').dataset.status).toBe('connecting');
    act(() => {
      ws.open();
      ws.receive(welcome('general', { id: 'u1', name: 'alice' }, [msg('general', 1, { id: 'u2', name: 'bob' }, 'hi alice')]));
    });
    expect((screen.getByTestId('composer-input') as HTMLTextAreaElement).disabled).toBe(false);
    expect(screen.getByTestId('connection-status').dataset.status).toBe('online');
    expect(screen.getByTestId('message-body').textContent).toBe('hi alice');
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
    const here = () => container.querySelector('.chat-subtitle')?.textContent;
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
    fireEvent.change(screen.getByTestId('room-input'), { target: { value: 'Design' } });
    fireEvent.submit(screen.getByTestId('room-input').closest('form')!);
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
