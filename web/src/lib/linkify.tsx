import type { ReactNode } from 'react';

const URL_RE = /\bhttps?:\/\/[^\s<>"'`]+/gi;
const TRAILING = /[.,;:!?'")\]}>]+$/;

/**
 * Splits plain text into strings and <a> elements for http(s) URLs. Everything stays text
 * rendered by React, so a body can never inject markup.
 */
export function linkify(text: string): ReactNode[] {
  const out: ReactNode[] = [];
  let last = 0;
  for (const match of text.matchAll(URL_RE)) {
    let url = match[0];
    const start = match.index ?? 0;
    const trail = TRAILING.exec(url);
    if (trail) {
      // Keep a closing paren that belongs to the URL, as in wiki links: (see https://x/a_(b)).
      let cut = trail[0];
      while (cut.startsWith(')') && count(url, '(') > count(url.slice(0, url.length - cut.length), ')')) {
        cut = cut.slice(1);
      }
      url = url.slice(0, url.length - cut.length);
    }
    if (url.length <= 'https://'.length) continue;
    if (start > last) out.push(text.slice(last, start));
    out.push(
      <a key={`${start}-${url}`} href={url} target="_blank" rel="noopener noreferrer">
        {url}
      </a>,
    );
    last = start + url.length;
  }
  if (last < text.length) out.push(text.slice(last));
  return out;
}

function count(s: string, ch: string): number {
  let n = 0;
  for (const c of s) if (c === ch) n++;
  return n;
}
