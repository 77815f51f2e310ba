import { afterEach, describe, expect, it, vi } from 'vitest';
import { badgeText, documentTitle, drawBadgedIcon, FAVICON, setFavicon } from './attention';

afterEach(() => {
  document.head.querySelectorAll('link[rel="icon"]').forEach((l) => l.remove());
});

function fakeCanvas() {
  const calls: string[] = [];
  const ctx = new Proxy(
    {},
    {
      get: (_t, prop: string) => (typeof prop === 'string' && ['arc', 'beginPath', 'fill', 'stroke', 'fillText', 'drawImage'].includes(prop) ? (...args: unknown[]) => calls.push(`${prop}(${args.join(',')})`) : undefined),
      set: (_t, prop: string, v) => (calls.push(`${String(prop)}=${String(v)}`), true),
    },
  );
  vi.spyOn(HTMLCanvasElement.prototype, 'getContext').mockImplementation((() => ctx) as never);
  vi.spyOn(HTMLCanvasElement.prototype, 'toDataURL').mockImplementation(() => 'data:image/png;base64,AAAA');
  return calls;
}

describe('title and favicon', () => {
  it('puts the unseen count in the title', () => {
    expect(documentTitle('#general', 0)).toBe('#general · distchat');
    expect(documentTitle('#general', 3)).toBe('(3) #general · distchat');
    expect(documentTitle('#dev', 1500)).toBe('(999+) #dev · distchat');
    expect(documentTitle('Sam · 3f', 2)).toBe('(2) Sam · 3f · distchat');
  });

  it('fits the count on the badge', () => {
    expect([0, 1, 9, 10, 250].map(badgeText)).toEqual(['', '1', '9', '9+', '9+']);
  });

  it('draws a badge with the count, red for a mention, as a PNG data URL', () => {
    const calls = fakeCanvas();
    expect(drawBadgedIcon(null, 3, true)).toBe('data:image/png;base64,AAAA');
    expect(calls).toContain('fillStyle=#e5484d');
    expect(calls.some((c) => c.startsWith('fillText(3,'))).toBe(true);
    calls.length = 0;
    drawBadgedIcon(null, 12, false);
    expect(calls).toContain('fillStyle=#4f5bd5');
    expect(calls.some((c) => c.startsWith('fillText(9+,'))).toBe(true);
  });

  it('sets the favicon link, and puts the plain icon back at 0', () => {
    fakeCanvas();
    setFavicon(2, false, null);
    const link = document.querySelector<HTMLLinkElement>('link[rel="icon"]')!;
    expect(link.getAttribute('href')).toBe('data:image/png;base64,AAAA');
    expect(link.type).toBe('image/png');
    setFavicon(0, false, null);
    expect(link.getAttribute('href')).toBe(FAVICON);
    expect(link.type).toBe('image/svg+xml');
  });

  it('keeps the plain icon when there is no canvas', () => {
    vi.spyOn(HTMLCanvasElement.prototype, 'getContext').mockImplementation((() => null) as never);
    setFavicon(5, true, null);
    expect(document.querySelector('link[rel="icon"]')!.getAttribute('href')).toBe(FAVICON);
  });
});
