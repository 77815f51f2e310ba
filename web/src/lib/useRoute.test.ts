import { describe, expect, it } from 'vitest';
import { parseRoomPath, pathForRoom, roomFromPath } from './useRoute';

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

  it('reports an invalid room path instead of quietly showing general', () => {
    expect(parseRoomPath('/r/dev')).toEqual({ room: 'dev', invalid: null });
    expect(parseRoomPath('/')).toEqual({ room: 'general', invalid: null });
    expect(parseRoomPath('/r/Bad%20Name')).toEqual({ room: 'general', invalid: 'Bad Name' });
    expect(parseRoomPath('/r/%E0%A4%A')).toEqual({ room: 'general', invalid: '%E0%A4%A' });
    expect(parseRoomPath(`/r/${'a'.repeat(65)}`).invalid).toBe('a'.repeat(65));
    expect(parseRoomPath('/r/')).toEqual({ room: 'general', invalid: '' });
    expect(parseRoomPath('/r/a/b')).toEqual({ room: 'general', invalid: 'a/b' });
  });

  it('builds /r/<room>', () => {
    expect(pathForRoom('dev')).toBe('/r/dev');
  });
});
