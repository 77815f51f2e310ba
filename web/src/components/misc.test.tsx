import { act, fireEvent, render, screen } from '@testing-library/react';
import { describe, expect, it, vi } from 'vitest';
import { NotificationBanner, SettingsMenu } from './Settings';
import { statusLabel, StatusIndicator } from './StatusIndicator';
import { Toasts } from './Toasts';
import { TypingIndicator, typingText } from './TypingIndicator';

describe('StatusIndicator', () => {
  it('labels every state', () => {
    expect(statusLabel('online', null, 0, false)).toBe('Online');
    expect(statusLabel('connecting', null, 0, false)).toBe('Connecting…');
    expect(statusLabel('reconnecting', 3200, 0, false)).toBe('Reconnecting in 4s');
    expect(statusLabel('reconnecting', null, 0, false)).toBe('Reconnecting…');
    expect(statusLabel('offline', null, 0, false)).toBe('Offline');
    expect(statusLabel('offline', null, 0, true)).toBe('Disconnected');
  });

  it('exposes the state for assistive tech and tests', () => {
    render(<StatusIndicator status="online" retryAt={null} fatal={false} />);
    const el = screen.getByTestId('connection-status');
    expect(el.dataset.status).toBe('online');
    expect(el.getAttribute('role')).toBe('status');
    expect(el.textContent).toBe('Online');
  });
});

describe('TypingIndicator', () => {
  it('names who is typing', () => {
    expect(typingText([])).toBe('');
    expect(typingText(['alice'])).toBe('alice is typing…');
    expect(typingText(['alice', 'bob'])).toBe('alice and bob are typing…');
    expect(typingText(['a', 'b', 'c'])).toBe('3 people are typing…');
    render(<TypingIndicator typing={{ u1: { user: { id: 'u1', name: 'alice' }, at: 0 } }} />);
    expect(screen.getByTestId('typing-indicator').textContent).toBe('alice is typing…');
  });
});

describe('Toasts', () => {
  it('can be dismissed and dismisses itself after a while', () => {
    vi.useFakeTimers();
    try {
      const onDismiss = vi.fn();
      render(<Toasts toasts={[{ id: 7, code: 'bad_json', message: 'frame is not JSON' }]} onDismiss={onDismiss} />);
      expect(screen.getByTestId('toast').textContent).toContain('frame is not JSON');
      fireEvent.click(screen.getByTestId('toast-dismiss'));
      expect(onDismiss).toHaveBeenCalledWith(7);
      onDismiss.mockClear();
      act(() => vi.advanceTimersByTime(8000));
      expect(onDismiss).toHaveBeenCalledWith(7);
    } finally {
      vi.useRealTimers();
    }
  });
});

describe('Notification settings', () => {
  const settings = { notifications: true, sound: true };
  function labels(dms: boolean): string[] {
    const { unmount } = render(<SettingsMenu settings={settings} permission="granted" onChange={() => {}} onRequestPermission={() => {}} dms={dms} />);
    fireEvent.click(screen.getByTestId('settings-button'));
    const out = screen.getAllByRole('menuitemcheckbox').map((el) => el.textContent ?? '');
    unmount();
    return out;
  }

  it('say that direct messages notify too, where the server has them', () => {
    expect(labels(true).join(' | ')).toMatch(/^Desktop notifications for mentions and direct messages.* \| Sound for mentions and direct messages/);
    expect(labels(false).join(' | ')).toMatch(/^Desktop notifications for mentions.* \| Sound for mentions$/);
    render(<NotificationBanner onEnable={() => {}} onDismiss={() => {}} dms />);
    expect(screen.getByTestId('notify-banner').textContent).toContain('mentions you or sends you a direct message');
  });
});
