import { render } from '@testing-library/react';
import { describe, expect, it } from 'vitest';
import { linkify } from './linkify';

function html(text: string) {
  const { container } = render(<p>{linkify(text)}</p>);
  return container.firstElementChild as HTMLElement;
}

describe('linkify', () => {
  it('leaves plain text alone', () => {
    expect(linkify('no links here')).toEqual(['no links here']);
  });

  it('turns http(s) URLs into safe external links', () => {
    const p = html('see https://example.com/a?b=1, and http://x.org.');
    const links = p.querySelectorAll('a');
    expect([...links].map((a) => a.getAttribute('href'))).toEqual(['https://example.com/a?b=1', 'http://x.org']);
    for (const a of links) {
      expect(a.getAttribute('rel')).toBe('noopener noreferrer');
      expect(a.getAttribute('target')).toBe('_blank');
    }
    expect(p.textContent).toBe('see https://example.com/a?b=1, and http://x.org.');
  });

  it('keeps balanced parentheses', () => {
    const p = html('(https://en.wikipedia.org/wiki/Go_(language))');
    expect(p.querySelector('a')?.getAttribute('href')).toBe('https://en.wikipedia.org/wiki/Go_(language)');
  });

  it('does not link javascript: or other schemes', () => {
    const p = html('javascript:alert(1) ftp://x data:text/html,hi');
    expect(p.querySelector('a')).toBeNull();
  });
});
