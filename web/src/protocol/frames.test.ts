import { describe, expect, it } from 'vitest';
import { encodeFrame, parseFrame } from './frames';

describe('parseFrame', () => {
  it('parses a single object', () => {
    const { frames, bad } = parseFrame('{"type":"ack","ref":"r1","room":"general","seq":3,"id":"m3","ts":1}');
    expect(bad).toEqual([]);
    expect(frames).toHaveLength(1);
    expect(frames[0]).toMatchObject({ type: 'ack', ref: 'r1', seq: 3 });
  });

  it('splits a coalesced frame into every object in order', () => {
    const data = [
      '{"type":"message","room":"general","seq":1,"id":"a","from":{"id":"u","name":"alice"},"body":"one","ts":1}',
      '{"type":"message","room":"general","seq":2,"id":"b","from":{"id":"u","name":"alice"},"body":"two\\nlines","ts":2}',
      '{"type":"typing","room":"general","user":{"id":"v","name":"bob"}}',
    ].join('\n');
    const { frames, bad } = parseFrame(data);
    expect(bad).toEqual([]);
    expect(frames.map((f) => f.type)).toEqual(['message', 'message', 'typing']);
    expect(frames[1]).toMatchObject({ seq: 2, body: 'two\nlines' });
  });

  it('ignores blank lines, trailing newline and CRLF', () => {
    const { frames, bad } = parseFrame('\n{"type":"left","room":"a"}\r\n\n   \n{"type":"left","room":"b"}\n');
    expect(bad).toEqual([]);
    expect(frames.map((f) => (f as { room: string }).room)).toEqual(['a', 'b']);
  });

  it('survives a bad line and keeps the good ones', () => {
    const { frames, bad } = parseFrame('{"type":"left","room":"a"}\n{not json\n[1,2]\n{"no":"type"}\n{"type":"left","room":"b"}');
    expect(frames.map((f) => (f as { room: string }).room)).toEqual(['a', 'b']);
    expect(bad).toEqual(['{not json', '[1,2]', '{"no":"type"}']);
  });

  it('returns nothing for an empty frame', () => {
    expect(parseFrame('')).toEqual({ frames: [], bad: [] });
  });
});

describe('encodeFrame', () => {
  it('encodes one JSON object on one line even when the body has newlines', () => {
    const s = encodeFrame({ type: 'message', room: 'general', body: 'a\nb', ref: 'r' });
    expect(s.includes('\n')).toBe(false);
    expect(JSON.parse(s)).toEqual({ type: 'message', room: 'general', body: 'a\nb', ref: 'r' });
  });
});
