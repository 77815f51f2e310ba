import { render, screen } from '@testing-library/react';
import { describe, expect, it } from 'vitest';
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
});
