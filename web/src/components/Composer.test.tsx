import { fireEvent, render, screen } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it, vi } from 'vitest';
import { Composer } from './Composer';

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
