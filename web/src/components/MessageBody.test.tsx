import { fireEvent, render, screen } from '@testing-library/react';
import { describe, expect, it } from 'vitest';
import { isLongBody, LONG_CHARS, LONG_LINES, MessageBody } from './MessageBody';

describe('MessageBody', () => {
  it('lays out by the text direction of the body', () => {
    render(<MessageBody body="שלום עולם" />);
    expect(screen.getByTestId('message-body').getAttribute('dir')).toBe('auto');
  });

  it('collapses very long bodies behind "Show more"', () => {
    expect(isLongBody('x'.repeat(LONG_CHARS))).toBe(false);
    expect(isLongBody('x'.repeat(LONG_CHARS + 1))).toBe(true);
    expect(isLongBody('x\n'.repeat(LONG_LINES - 1) + 'x')).toBe(false);
    expect(isLongBody('x\n'.repeat(LONG_LINES) + 'x')).toBe(true);

    render(<MessageBody body={'line\n'.repeat(40)} />);
    const body = screen.getByTestId('message-body');
    const more = screen.getByTestId('show-more');
    expect(body.className).toContain('msg-collapsed');
    expect(more.textContent).toBe('Show more');
    expect(more.getAttribute('aria-expanded')).toBe('false');
    expect(more.getAttribute('aria-controls')).toBe(body.id);
    fireEvent.click(more);
    expect(body.className).not.toContain('msg-collapsed');
    expect(more.textContent).toBe('Show less');
  });

  it('shows short bodies whole', () => {
    render(<MessageBody body="short" />);
    expect(screen.queryByTestId('show-more')).toBeNull();
  });
});
