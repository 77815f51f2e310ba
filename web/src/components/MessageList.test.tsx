import { fireEvent, render, screen, within } from '@testing-library/react';
import { describe, expect, it, vi } from 'vitest';
import type { Notice, PendingMessage } from '../chat/state';
import { buildTimeline } from '../chat/timeline';
import type { Message, User } from '../protocol/types';
import { MessageList } from './MessageList';

const alice = { id: 'ua', name: 'alice' };
const bob = { id: 'ub', name: 'bob' };
const base = new Date(2025, 10, 24, 14, 5, 0).getTime();

function m(seq: number, from: User, body: string, minutes = seq): Message {
  return { room: 'general', seq, id: `m${seq}`, from, body, ts: base + minutes * 60_000 };
}

function renderList(messages: Message[], notices: Notice[] = [], pending: PendingMessage[] = [], extra: Partial<Parameters<typeof MessageList>[0]> = {}) {
  const rows = buildTimeline({ messages, notices, pending, isMine: (u) => u.id === alice.id, me: alice });
  const props = { room: 'general', rows, hasMore: false, loadingOlder: false, loaded: true, onLoadOlder: vi.fn(), onRetry: vi.fn(), onDiscard: vi.fn(), ...extra };
  const r = render(<MessageList {...props} />);
  return { ...r, props };
}

describe('MessageList', () => {
  it('renders sender, local HH:MM time with the full date as title, and the body', () => {
    renderList([m(1, bob, 'hello there', 0)]);
    const item = screen.getByTestId('message');
    expect(within(item).getByTestId('message-author').textContent).toBe('bob');
    const time = within(item).getByTestId('message-time');
    expect(time.textContent).toBe('14:05');
    expect(time.getAttribute('title')).toContain('2025');
    expect(time.getAttribute('datetime')).toBe(new Date(base).toISOString());
    expect(within(item).getByTestId('message-body').textContent).toBe('hello there');
    expect(item.dataset.own).toBe('false');
  });

  it('distinguishes own messages', () => {
    renderList([m(1, bob, 'hi'), m(2, alice, 'hey')]);
    const [theirs, mine] = screen.getAllByTestId('message');
    expect(theirs.dataset.own).toBe('false');
    expect(mine.dataset.own).toBe('true');
    expect(mine.className).toContain('msg-own');
    expect(theirs.className).toContain('msg-other');
  });

  it('groups consecutive messages from one sender and starts a new group on a change of sender or a long pause', () => {
    renderList([m(1, bob, 'a', 0), m(2, bob, 'b', 1), m(3, bob, 'c', 2), m(4, alice, 'd', 3), m(5, bob, 'e', 4), m(6, bob, 'f', 30)]);
    const items = screen.getAllByTestId('message');
    expect(items.map((el) => el.classList.contains('msg-first'))).toEqual([true, false, false, true, true, true]);
    expect(items.map((el) => el.classList.contains('msg-last'))).toEqual([false, false, true, true, true, true]);
    // The author is named once per group.
    expect(screen.getAllByTestId('message-author').map((el) => el.textContent)).toEqual(['bob', 'You', 'bob', 'bob']);
  });

  it('renders markup in a body as text, never as HTML', () => {
    const evil = '<img src=x onerror=alert(1)><script>alert(2)</script><b>bold</b>';
    const { container } = renderList([m(1, bob, evil)]);
    expect(screen.getByTestId('message-body').textContent).toBe(evil);
    expect(container.querySelector('img')).toBeNull();
    expect(container.querySelector('script')).toBeNull();
    expect(container.querySelector('b')).toBeNull();
  });

  it('keeps newlines (pre-wrap) and links URLs safely', () => {
    renderList([m(1, bob, 'line one\nsee https://example.com/x')]);
    const body = screen.getByTestId('message-body');
    expect(body.textContent).toBe('line one\nsee https://example.com/x');
    const a = body.querySelector('a')!;
    expect(a.getAttribute('href')).toBe('https://example.com/x');
    expect(a.getAttribute('rel')).toBe('noopener noreferrer');
    expect(a.getAttribute('target')).toBe('_blank');
  });

  it('places join and leave notices inline by time', () => {
    const notices: Notice[] = [
      { kind: 'join', key: 'j', user: { id: 'uc', name: 'carol' }, ts: base + 90_000 },
      { kind: 'leave', key: 'l', user: bob, ts: base + 10 * 60_000 },
    ];
    const { container } = renderList([m(1, bob, 'first', 1), m(2, bob, 'second', 2)], notices);
    const order = [...container.querySelectorAll('[data-testid="message"], [data-testid="notice"]')].map((el) => el.textContent?.replace(/\d\d:\d\d/g, '').trim());
    expect(order[0]).toContain('first');
    expect(order[1]).toBe('carol joined');
    expect(order[2]).toContain('second');
    expect(order[3]).toBe('bob left');
  });

  it('shows pending and failed own messages with a retry action', () => {
    const pending: PendingMessage[] = [
      { ref: 'r1', room: 'general', body: 'on its way', createdAt: base + 5 * 60_000, status: 'pending' },
      { ref: 'r2', room: 'general', body: 'refused', createdAt: base + 6 * 60_000, status: 'failed', error: 'rate limited' },
    ];
    const { props } = renderList([m(1, bob, 'hi')], [], pending);
    const items = screen.getAllByTestId('message');
    expect(items.map((el) => el.dataset.status)).toEqual(['sent', 'pending', 'failed']);
    expect(screen.getByTestId('message-failed').textContent).toContain('rate limited');
    fireEvent.click(screen.getByTestId('message-retry'));
    expect(props.onRetry).toHaveBeenCalledWith('r2');
    fireEvent.click(screen.getByTestId('message-discard'));
    expect(props.onDiscard).toHaveBeenCalledWith('r2');
  });

  it('shows the beginning of the room when there is no older history, a loader otherwise', () => {
    const { unmount } = renderList([m(1, bob, 'x')]);
    expect(screen.getByTestId('room-start')).toBeTruthy();
    unmount();
    renderList([m(1, bob, 'x')], [], [], { hasMore: true });
    expect(screen.queryByTestId('room-start')).toBeNull();
    expect(screen.getByTestId('history-loading')).toBeTruthy();
  });

  it('asks for older messages when scrolled to the top', () => {
    const { props } = renderList([m(1, bob, 'x')], [], [], { hasMore: true });
    const list = screen.getByTestId('message-list');
    Object.defineProperty(list, 'scrollTop', { value: 0, writable: true });
    fireEvent.scroll(list);
    expect(props.onLoadOlder).toHaveBeenCalled();
  });

  it('is a live region for new messages', () => {
    renderList([]);
    const list = screen.getByTestId('message-list');
    expect(list.getAttribute('role')).toBe('log');
    expect(list.getAttribute('aria-live')).toBe('polite');
  });
});

describe('MessageList scrolling', () => {
  // jsdom has no layout: every message row is 100 px tall, the view 300 px.
  function withLayout() {
    const height = Object.getOwnPropertyDescriptor(HTMLElement.prototype, 'scrollHeight');
    const client = Object.getOwnPropertyDescriptor(HTMLElement.prototype, 'clientHeight');
    Object.defineProperty(HTMLElement.prototype, 'scrollHeight', {
      configurable: true,
      get(this: HTMLElement) {
        return this.dataset.testid === 'message-list' ? this.querySelectorAll('[data-testid="message"]').length * 100 : 0;
      },
    });
    Object.defineProperty(HTMLElement.prototype, 'clientHeight', {
      configurable: true,
      get(this: HTMLElement) {
        return this.dataset.testid === 'message-list' ? 300 : 0;
      },
    });
    return () => {
      if (height) Object.defineProperty(HTMLElement.prototype, 'scrollHeight', height);
      if (client) Object.defineProperty(HTMLElement.prototype, 'clientHeight', client);
    };
  }

  function list(messages: Message[], pending: PendingMessage[] = []) {
    const rows = buildTimeline({ messages, notices: [], pending, isMine: (u) => u.id === alice.id, me: alice });
    return <MessageList room="general" rows={rows} hasMore={false} loadingOlder={false} loaded onLoadOlder={() => {}} onRetry={() => {}} onDiscard={() => {}} />;
  }

  const ten = Array.from({ length: 10 }, (_, i) => m(i + 10, bob, `msg ${i + 10}`));

  it('follows new messages when at the bottom', () => {
    const restore = withLayout();
    try {
      const { rerender } = render(list(ten));
      const el = screen.getByTestId('message-list');
      expect(el.scrollTop).toBe(1000);
      rerender(list([...ten, m(20, bob, 'new')]));
      expect(el.scrollTop).toBe(1100);
      expect(screen.queryByTestId('new-messages')).toBeNull();
    } finally {
      restore();
    }
  });

  it('does not yank a reader who scrolled up, and offers a "new messages" pill', () => {
    const restore = withLayout();
    try {
      const { rerender } = render(list(ten));
      const el = screen.getByTestId('message-list');
      el.scrollTop = 200;
      fireEvent.scroll(el);
      rerender(list([...ten, m(20, bob, 'new one')]));
      rerender(list([...ten, m(20, bob, 'new one'), m(21, bob, 'new two')]));
      expect(el.scrollTop).toBe(200);
      const pill = screen.getByTestId('new-messages');
      expect(pill.textContent).toContain('2 new messages');
      fireEvent.click(pill);
      expect(el.scrollTop).toBe(1200);
      expect(screen.queryByTestId('new-messages')).toBeNull();
    } finally {
      restore();
    }
  });

  it('scrolls to the bottom for the reader’s own new message', () => {
    const restore = withLayout();
    try {
      const { rerender } = render(list(ten));
      const el = screen.getByTestId('message-list');
      el.scrollTop = 100;
      fireEvent.scroll(el);
      rerender(list(ten, [{ ref: 'r', room: 'general', body: 'mine', createdAt: base + 60 * 60_000, status: 'pending' }]));
      expect(el.scrollTop).toBe(1100);
    } finally {
      restore();
    }
  });

  it('keeps the reading position when older messages are prepended', () => {
    const restore = withLayout();
    try {
      const { rerender } = render(list(ten));
      const el = screen.getByTestId('message-list');
      el.scrollTop = 50;
      fireEvent.scroll(el);
      const older = Array.from({ length: 5 }, (_, i) => m(i + 1, bob, `old ${i + 1}`));
      rerender(list([...older, ...ten]));
      // Five rows of 100 px were added above: the same message stays in view.
      expect(el.scrollTop).toBe(550);
      expect(screen.queryByTestId('new-messages')).toBeNull();
    } finally {
      restore();
    }
  });
});
