import { describe, expect, it } from 'vitest';
import { pathForRoom, roomFromPath } from './useRoute';

describe('room routes', () => {
  it.each([
    ['/', 'general'],
    ['/r/dev', 'dev'],
    ['/r/dev/', 'dev'],
    ['/r/a_b-1', 'a_b-1'],
    ['/r/Bad', 'general'],
    ['/r/%E0%A4%A', 'general'],
    ['/other', 'general'],
  ])('%s -> %s', (path, room) => {
    expect(roomFromPath(path)).toBe(room);
  });

  it('builds /r/<room>', () => {
    expect(pathForRoom('dev')).toBe('/r/dev');
  });
});
