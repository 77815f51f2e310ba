import { fireEvent, render, screen } from '@testing-library/react';
import { describe, expect, it, vi } from 'vitest';
import { makeDirectory } from '../chat/people';
import { OnlineList } from './OnlineList';

describe('OnlineList', () => {
  it('lists people with a count, own name first and tagged', () => {
    render(
      <OnlineList
        users={[
          { id: '1', name: 'zoe' },
          { id: '2', name: 'bob' },
          { id: '3', name: 'me' },
        ]}
        myIds={['3']}
      />,
    );
    expect(screen.getByTestId('online-count').textContent).toBe('3');
    const users = screen.getAllByTestId('online-user');
    expect(users.map((u) => u.dataset.name)).toEqual(['me', 'bob', 'zoe']);
    expect(users[0].textContent).toContain('you');
    expect(users[1].textContent).not.toContain('you');
  });

  it('shows one person with two connections once', () => {
    render(
      <OnlineList
        users={[
          { id: '1', name: 'alice' },
          { id: '2', name: 'alice' },
          { id: '3', name: 'bob' },
        ]}
        myIds={[]}
      />,
    );
    expect(screen.getByTestId('online-count').textContent).toBe('2');
    expect(screen.getAllByTestId('online-user').map((u) => u.textContent)).toEqual(['Aalice×2', 'Bbob']);
  });

  it('shows the first members of a large room and how many more there are', () => {
    render(
      <OnlineList
        users={[
          { id: '1', name: 'alice' },
          { id: '2', name: 'alice' },
          { id: '3', name: 'bob' },
        ]}
        total={1234}
        myIds={['3']}
      />,
    );
    expect(screen.getByTestId('online-count').textContent).toBe('1234');
    expect(screen.getAllByTestId('online-user').map((u) => u.dataset.name)).toEqual(['bob', 'alice']);
    expect(screen.getByTestId('online-more').textContent).toBe('and 1231 more');
  });

  it('counts a complete list by name, with or without a total', () => {
    const users = [
      { id: '1', name: 'alice' },
      { id: '2', name: 'alice' },
      { id: '3', name: 'bob' },
    ];
    const { rerender } = render(<OnlineList users={users} total={3} myIds={[]} />);
    expect(screen.getByTestId('online-count').textContent).toBe('2');
    expect(screen.queryByTestId('online-more')).toBeNull();
    rerender(<OnlineList users={users} myIds={[]} />);
    expect(screen.getByTestId('online-count').textContent).toBe('2');
    expect(screen.queryByTestId('online-more')).toBeNull();
  });

  it('renders names as text', () => {
    const { container } = render(<OnlineList users={[{ id: '1', name: '<img src=x>' }]} myIds={[]} />);
    expect(container.querySelector('img')).toBeNull();
    expect(screen.getByTestId('online-user').textContent).toContain('<img src=x>');
  });

  it('with identity lists people by user id: two Sams apart, devices as a hint, "you" by id', () => {
    const users = [
      { id: 'k3x9q2mf', name: 'Sam', devices: 2 },
      { id: '3fa81c9d', name: 'Sam', devices: 1 },
      { id: 'b0', name: 'Bob' },
    ];
    const people = makeDirectory({ identity: true, names: {}, seen: users });
    const onPerson = vi.fn();
    render(<OnlineList users={users} myIds={[]} people={people} myId="k3x9q2mf" onPerson={onPerson} />);
    expect(screen.getByTestId('online-count').textContent).toBe('3');
    expect(screen.getAllByTestId('online-user').map((u) => u.textContent)).toEqual(['SSam · k3you2 devices', 'BBob', 'SSam · 3f']);
    expect(screen.getByTestId('online-devices').getAttribute('title')).toBe('Connected on 2 devices');
    // Others open their menu; the user's own entry is not a button.
    const buttons = screen.getAllByTestId('online-person');
    expect(buttons.map((b) => b.getAttribute('aria-label'))).toEqual(['Bob: options', 'Sam · 3f: options']);
    fireEvent.click(buttons[1]);
    expect(onPerson).toHaveBeenCalledWith(users[1], expect.anything(), buttons[1]);
  });
});
