import { fireEvent, render, screen, waitFor, within } from '@testing-library/react';
import { describe, expect, it, vi } from 'vitest';
import type { RoomInfo } from './BrowseRooms';
import { BrowseRooms, filterRooms, parseRooms } from './BrowseRooms';

const rooms: RoomInfo[] = [
  { name: 'general', members: 12, topic: 'Everything else', last_activity: Date.now() - 5 * 60_000 },
  { name: 'design', members: 3, topic: 'Mockups and reviews' },
  { name: 'devops', members: 0 },
];

async function setup(joined = ['general'], load = vi.fn(async () => rooms)) {
  const onOpen = vi.fn();
  const onClose = vi.fn();
  render(<BrowseRooms joined={joined} onOpen={onOpen} onClose={onClose} load={load} />);
  await waitFor(() => expect(screen.getAllByTestId('browse-room').length).toBeGreaterThan(0));
  const input = screen.getByTestId('room-input') as HTMLInputElement;
  return { onOpen, onClose, input };
}

describe('BrowseRooms', () => {
  it('lists rooms with members, topic and last activity; the busiest first', async () => {
    await setup();
    const items = screen.getAllByTestId('browse-room');
    expect(items.map((i) => i.dataset.room)).toEqual(['general', 'design', 'devops']);
    expect(items[0].textContent).toContain('12 members');
    expect(items[0].textContent).toContain('active 5 min ago');
    expect(items[0].textContent).toContain('Everything else');
    expect(items[0].textContent).toContain('joined');
    expect(items[2].textContent).toContain('0 members');
    expect(document.activeElement).toBe(screen.getByTestId('room-input'));
  });

  it('joins a room with a click', async () => {
    const { onOpen, onClose } = await setup();
    fireEvent.click(screen.getAllByTestId('browse-room')[1]);
    expect(onOpen).toHaveBeenCalledWith('design');
    expect(onClose).toHaveBeenCalled();
  });

  it('filters by name or topic, and Enter joins the best match', async () => {
    const { input, onOpen } = await setup();
    fireEvent.change(input, { target: { value: 'mock' } });
    expect(screen.getAllByTestId('browse-room').map((i) => i.dataset.room)).toEqual(['design']);
    fireEvent.change(input, { target: { value: '#Dev' } });
    expect(screen.getAllByTestId('browse-room').map((i) => i.dataset.room)).toEqual(['devops']);
    // "dev" is a new name: creating it is offered, but Enter joins the existing match.
    expect(screen.getByTestId('room-create').textContent).toBe('+Create #dev');
    fireEvent.submit(input.form!);
    expect(onOpen).toHaveBeenCalledWith('devops');
  });

  it('never creates a room by accident: a new name needs the Create button or a second Enter', async () => {
    const { input, onOpen } = await setup();
    fireEvent.change(input, { target: { value: 'genral' } });
    expect(screen.queryAllByTestId('browse-room')).toHaveLength(0);
    fireEvent.submit(input.form!);
    expect(onOpen).not.toHaveBeenCalled();
    expect(screen.getByTestId('room-help').textContent).toContain('Press Enter again to create it');
    fireEvent.submit(input.form!);
    expect(onOpen).toHaveBeenCalledWith('genral');
  });

  it('creates with the button, normalizing what was typed', async () => {
    const { input, onOpen } = await setup();
    fireEvent.change(input, { target: { value: ' Team Lunch ' } });
    fireEvent.click(screen.getByTestId('room-create'));
    expect(onOpen).toHaveBeenCalledWith('team-lunch');
  });

  it('offers no create for an existing room or an invalid name', async () => {
    const { input } = await setup();
    fireEvent.change(input, { target: { value: 'design' } });
    expect(screen.queryByTestId('room-create')).toBeNull();
    fireEvent.change(input, { target: { value: 'bad/name!' } });
    expect(screen.queryByTestId('room-create')).toBeNull();
    expect(screen.getByTestId('room-error').textContent).toContain('lowercase letters');
  });

  it('lists the user’s rooms when the server does not know them, and survives a failed load', async () => {
    const failing = vi.fn(async () => {
      throw new Error('boom');
    });
    render(<BrowseRooms joined={['secret']} onOpen={() => {}} onClose={() => {}} load={failing} />);
    await waitFor(() => expect(screen.getByRole('alert').textContent).toContain('Could not load the rooms: boom'));
    fireEvent.click(within(screen.getByRole('alert')).getByText('Try again'));
    expect(failing).toHaveBeenCalledTimes(2);
  });

  it('offers to create a room only once the list has loaded, so that an existing one is not offered as new', async () => {
    let resolve: (r: RoomInfo[]) => void = () => {};
    const load = vi.fn(() => new Promise<RoomInfo[]>((r) => (resolve = r)));
    const onOpen = vi.fn();
    render(<BrowseRooms joined={[]} onOpen={onOpen} onClose={() => {}} load={load} />);
    const input = screen.getByTestId('room-input') as HTMLInputElement;
    fireEvent.change(input, { target: { value: 'design' } });
    expect(screen.queryByTestId('room-create')).toBeNull();
    // Enter while loading neither creates nor arms creating.
    fireEvent.submit(input.form!);
    fireEvent.submit(input.form!);
    expect(onOpen).not.toHaveBeenCalled();
    resolve(rooms);
    await waitFor(() => expect(screen.getAllByTestId('browse-room').map((i) => i.dataset.room)).toEqual(['design']));
    expect(screen.queryByTestId('room-create')).toBeNull();
    fireEvent.change(input, { target: { value: 'designs' } });
    expect(screen.getByTestId('room-create').textContent).toBe('+Create #designs');
  });

  it('still lets a room be created by name when the list cannot load', async () => {
    const failing = vi.fn(async () => {
      throw new Error('boom');
    });
    const onOpen = vi.fn();
    render(<BrowseRooms joined={[]} onOpen={onOpen} onClose={() => {}} load={failing} />);
    await waitFor(() => expect(screen.getByRole('alert')).toBeTruthy());
    fireEvent.change(screen.getByTestId('room-input'), { target: { value: 'ops' } });
    fireEvent.click(screen.getByTestId('room-create'));
    expect(onOpen).toHaveBeenCalledWith('ops');
  });

  it('refuses names kept for direct messages, and says how to write to someone', async () => {
    const onOpen = vi.fn();
    render(<BrowseRooms joined={[]} onOpen={onOpen} onClose={() => {}} load={async () => rooms} reservedPrefix="dm-" />);
    await waitFor(() => expect(screen.getAllByTestId('browse-room').length).toBeGreaterThan(0));
    const input = screen.getByTestId('room-input') as HTMLInputElement;
    fireEvent.change(input, { target: { value: 'DM-Bob' } });
    expect(screen.queryByTestId('room-create')).toBeNull();
    expect(input.getAttribute('aria-invalid')).toBe('true');
    expect(screen.getByTestId('room-error').textContent).toContain('Names starting with dm- are kept for direct messages');
    fireEvent.submit(input.form!);
    fireEvent.submit(input.form!);
    expect(onOpen).not.toHaveBeenCalled();
  });

  it('closes on Escape', async () => {
    const { onClose } = await setup();
    fireEvent.keyDown(window, { key: 'Escape' });
    expect(onClose).toHaveBeenCalled();
  });
});

describe('parseRooms / filterRooms', () => {
  it('keeps usable entries and optional fields', () => {
    expect(parseRooms({ rooms: [{ name: 'a', members: 2, topic: 't', last_activity: 5 }, { name: 'b' }, { members: 3 }, null, 'x'] })).toEqual([
      { name: 'a', members: 2, topic: 't', last_activity: 5 },
      { name: 'b', members: 0 },
    ]);
    expect(parseRooms(null)).toEqual([]);
    expect(parseRooms({ rooms: 'nope' })).toEqual([]);
  });

  it('puts an exact name first', () => {
    expect(filterRooms([{ name: 'dev-ops', members: 9 }, { name: 'dev', members: 1 }], 'dev').map((r) => r.name)).toEqual(['dev', 'dev-ops']);
  });
});
