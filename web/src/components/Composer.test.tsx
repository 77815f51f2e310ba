import { fireEvent, render, screen } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it, vi } from 'vitest';
import { Composer, enterSendsOn } from './Composer';

function setup(props: Partial<Parameters<typeof Composer>[0]> = {}) {
  const onSend = vi.fn();
  const onTyping = vi.fn();
  render(<Composer room="general" maxBytes={100} onSend={onSend} onTyping={onTyping} {...props} />);
  const input = screen.getByTestId('composer-input') as HTMLTextAreaElement;
  return { onSend, onTyping, input, user: userEvent.setup() };
}

describe('Composer', () => {
  it('sends on Enter and clears the box', async () => {
    const { onSend, input, user } = setup();
    await user.type(input, 'hello{Enter}');
    expect(onSend).toHaveBeenCalledExactlyOnceWith('hello');
    expect(input.value).toBe('');
  });

  it('inserts a newline on Shift+Enter', async () => {
    const { onSend, input, user } = setup();
    await user.type(input, 'line 1{Shift>}{Enter}{/Shift}line 2');
    expect(onSend).not.toHaveBeenCalled();
    expect(input.value).toBe('line 1\nline 2');
    await user.keyboard('{Enter}');
    expect(onSend).toHaveBeenCalledWith('line 1\nline 2');
  });

  it('does not send blank messages', async () => {
    const { onSend, input, user } = setup();
    await user.type(input, '   {Enter}');
    expect(onSend).not.toHaveBeenCalled();
    expect((screen.getByTestId('composer-send') as HTMLButtonElement).disabled).toBe(true);
  });

  it('sends with the button too', async () => {
    const { onSend, input, user } = setup();
    await user.type(input, 'via button');
    await user.click(screen.getByTestId('composer-send'));
    expect(onSend).toHaveBeenCalledWith('via button');
  });

  it('reports typing while text is entered', async () => {
    const { onTyping, input, user } = setup();
    await user.type(input, 'ab');
    expect(onTyping).toHaveBeenCalledTimes(2);
  });

  it('is disabled with a visible reason while not connected', () => {
    const { input, onSend } = setup({ disabled: true, reason: 'Connection lost. Reconnecting in 3s.' });
    expect(input.disabled).toBe(true);
    expect(screen.getByTestId('composer-reason').textContent).toBe('Connection lost. Reconnecting in 3s.');
    fireEvent.keyDown(input, { key: 'Enter' });
    expect(onSend).not.toHaveBeenCalled();
  });

  it('enforces the byte limit from the server', async () => {
    const { onSend, input, user } = setup({ maxBytes: 10 });
    fireEvent.change(input, { target: { value: 'éééééé' } }); // 12 bytes
    expect(screen.getByTestId('composer-count').textContent).toContain('Too long');
    await user.type(input, '{Enter}');
    expect(onSend).not.toHaveBeenCalled();
    expect((screen.getByTestId('composer-send') as HTMLButtonElement).disabled).toBe(true);
  });
});

describe('Composer: mentions', () => {
  function withMembers(members = ['bob', 'Bea Arthur', 'carol']) {
    const onSend = vi.fn();
    render(<Composer room="general" maxBytes={1000} onSend={onSend} onTyping={() => {}} members={members} />);
    const input = screen.getByTestId('composer-input') as HTMLTextAreaElement;
    const type = (value: string) => {
      fireEvent.change(input, { target: { value, selectionStart: value.length } });
    };
    return { input, type, onSend };
  }

  it('suggests members after "@", moves with the arrows and completes with Enter', () => {
    const { input, type, onSend } = withMembers();
    type('hi @b');
    const options = () => screen.getAllByTestId('mention-option');
    expect(options().map((o) => o.querySelector('.mention-name')?.textContent)).toEqual(['Bea Arthur', 'bob']);
    expect(options()[0].getAttribute('aria-selected')).toBe('true');
    expect(input.getAttribute('aria-activedescendant')).toBe(options()[0].id);
    fireEvent.keyDown(input, { key: 'ArrowDown' });
    expect(options()[1].getAttribute('aria-selected')).toBe('true');
    fireEvent.keyDown(input, { key: 'Enter' });
    expect(input.value).toBe('hi @bob ');
    expect(onSend).not.toHaveBeenCalled();
    expect(screen.queryByTestId('mention-list')).toBeNull();
  });

  it('completes with Tab and with a click, and matches words inside names', () => {
    const { input, type } = withMembers();
    type('@art');
    expect(screen.getAllByTestId('mention-option').map((o) => o.querySelector('.mention-name')?.textContent)).toEqual(['Bea Arthur']);
    fireEvent.keyDown(input, { key: 'Tab' });
    expect(input.value).toBe('@Bea Arthur ');
    type('@Bea Arthur and @c');
    fireEvent.mouseDown(screen.getByTestId('mention-option'));
    expect(input.value).toBe('@Bea Arthur and @carol ');
  });

  it('closes on Escape until another mention starts, and stays closed when nothing matches', () => {
    const { input, type } = withMembers();
    type('@b');
    fireEvent.keyDown(input, { key: 'Escape' });
    expect(screen.queryByTestId('mention-list')).toBeNull();
    type('@bo');
    expect(screen.queryByTestId('mention-list')).toBeNull();
    type('@bo @c');
    expect(screen.getByTestId('mention-list')).toBeTruthy();
    type('@zz');
    expect(screen.queryByTestId('mention-list')).toBeNull();
    type('mail a@b');
    expect(screen.queryByTestId('mention-list')).toBeNull();
  });
});

describe('Composer: keys', () => {
  it('edits the last message with ArrowUp in an empty box', () => {
    const onEditLast = vi.fn(() => true);
    render(<Composer room="general" maxBytes={100} onSend={() => {}} onTyping={() => {}} onEditLast={onEditLast} />);
    const input = screen.getByTestId('composer-input');
    fireEvent.change(input, { target: { value: 'not empty' } });
    fireEvent.keyDown(input, { key: 'ArrowUp' });
    expect(onEditLast).not.toHaveBeenCalled();
    fireEvent.change(input, { target: { value: '' } });
    fireEvent.keyDown(input, { key: 'ArrowUp' });
    expect(onEditLast).toHaveBeenCalledOnce();
  });

  it('stays usable while offline, showing why messages wait', () => {
    const onSend = vi.fn();
    render(<Composer room="general" maxBytes={100} onSend={onSend} onTyping={() => {}} reason="You are offline." />);
    const input = screen.getByTestId('composer-input') as HTMLTextAreaElement;
    expect(input.disabled).toBe(false);
    expect(screen.getByTestId('composer-reason').textContent).toBe('You are offline.');
    fireEvent.change(input, { target: { value: 'queued' } });
    fireEvent.keyDown(input, { key: 'Enter' });
    expect(onSend).toHaveBeenCalledWith('queued');
  });

  it('on touch keyboards, Enter is a newline and the button sends', () => {
    expect(enterSendsOn(null)).toBe(true);
    expect(enterSendsOn((q) => q === '(pointer: fine)' || q === '(any-pointer: fine)')).toBe(true);
    expect(enterSendsOn((q) => q === '(pointer: coarse)')).toBe(false);
    // A tablet with a keyboard attached has a fine pointer too: Enter sends.
    expect(enterSendsOn((q) => q === '(pointer: coarse)' || q === '(any-pointer: fine)')).toBe(true);

    vi.stubGlobal('matchMedia', (q: string) => ({ matches: q === '(pointer: coarse)', media: q, addEventListener() {}, removeEventListener() {} }));
    try {
      const onSend = vi.fn();
      render(<Composer room="general" maxBytes={100} onSend={onSend} onTyping={() => {}} />);
      const input = screen.getByTestId('composer-input') as HTMLTextAreaElement;
      expect(input.getAttribute('enterkeyhint')).toBe('enter');
      fireEvent.change(input, { target: { value: 'line 1' } });
      fireEvent.keyDown(input, { key: 'Enter' });
      expect(onSend).not.toHaveBeenCalled();
      fireEvent.click(screen.getByTestId('composer-send'));
      expect(onSend).toHaveBeenCalledWith('line 1');
    } finally {
      vi.unstubAllGlobals();
    }
  });
});
