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

  it('renders names as text', () => {
    const { container } = render(<OnlineList users={[{ id: '1', name: '<img src=x>' }]} myIds={[]} />);
    expect(container.querySelector('img')).toBeNull();
    expect(screen.getByTestId('online-user').textContent).toContain('<img src=x>');
  });
});
