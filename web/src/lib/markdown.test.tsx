import { render } from '@testing-library/react';
import { describe, expect, it } from 'vitest';
import { renderMarkdown, safeHref } from './markdown';

function html(body: string, decorate?: (t: string, k: string) => React.ReactNode[]) {
  const { container } = render(<div>{renderMarkdown(body, { decorate })}</div>);
  return container.firstElementChild as HTMLElement;
}

/** Every element the renderer may produce; anything else is a bug. */
const SAFE_TAGS = new Set(['DIV', 'P', 'BR', 'STRONG', 'EM', 'S', 'CODE', 'PRE', 'BLOCKQUOTE', 'UL', 'OL', 'LI', 'A', 'SPAN', 'BUTTON', 'MARK']);
const SAFE_ATTRS = new Set(['class', 'href', 'title', 'target', 'rel', 'start', 'type', 'aria-label', 'data-testid', 'tabindex', 'dir']);

function expectOnlySafe(el: HTMLElement) {
  for (const node of [el, ...el.querySelectorAll('*')]) {
    expect(SAFE_TAGS.has(node.tagName), `tag ${node.tagName}`).toBe(true);
    for (const a of node.getAttributeNames()) expect(SAFE_ATTRS.has(a), `attribute ${a} on ${node.tagName}`).toBe(true);
    const href = node.getAttribute('href');
    if (href !== null) expect(href).toMatch(/^https?:\/\//);
  }
}

describe('renderMarkdown', () => {
  it('renders emphasis, strikethrough, inline code, quotes and lists', () => {
    const el = html('**bold** *it* _it2_ ~~gone~~ `x < y`\n> quoted\n\n1. one\n2. two\n\n- a\n- b');
    expect(el.querySelector('strong')?.textContent).toBe('bold');
    expect([...el.querySelectorAll('em')].map((e) => e.textContent)).toEqual(['it', 'it2']);
    expect(el.querySelector('s')?.textContent).toBe('gone');
    expect(el.querySelector('code')?.textContent).toBe('x < y');
    expect(el.querySelector('blockquote')?.textContent).toBe('quoted');
    expect([...el.querySelectorAll('ol > li')].map((e) => e.textContent)).toEqual(['one', 'two']);
    expect([...el.querySelectorAll('ul > li')].map((e) => e.textContent)).toEqual(['a', 'b']);
    // Tight list items hold their text directly, not in paragraphs.
    expect(el.querySelector('li p')).toBeNull();
    expectOnlySafe(el);
  });

  it('keeps an ordered list start number', () => {
    expect(html('3. three\n4. four').querySelector('ol')?.getAttribute('start')).toBe('3');
    expect(html('1. one\n2. two').querySelector('ol')?.hasAttribute('start')).toBe(false);
  });

  it('renders a fenced code block as monospace with a copy button, and its content as text', () => {
    const el = html('look:\n```js\nconst a = "<b>";\n**not bold**\n```');
    const pre = el.querySelector('pre code');
    expect(pre?.textContent).toBe('const a = "<b>";\n**not bold**');
    expect(el.querySelector('strong')).toBeNull();
    expect(el.querySelector('b')).toBeNull();
    expect(el.querySelector('[data-testid="code-copy"]')?.getAttribute('aria-label')).toBe('Copy code');
    expect(el.querySelector('.md-pre-lang')?.textContent).toBe('js');
    expectOnlySafe(el);
  });

  it('turns newlines into line breaks', () => {
    const el = html('one\ntwo');
    expect(el.querySelectorAll('br')).toHaveLength(1);
    expect(el.textContent).toBe('one\ntwo');
  });

  it('does not make headings, rules, tables, images or indented code out of chat text', () => {
    const el = html('# not a heading\n\n---\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n![img](https://x.test/a.png)\n\n    indented');
    expect(el.querySelector('h1, hr, table, img, pre')).toBeNull();
    expect(el.textContent).toContain('# not a heading');
    // An image is a link to it, never an <img> that loads by itself.
    expect(el.querySelector('a[href="https://x.test/a.png"]')?.textContent).toBe('img');
    expectOnlySafe(el);
  });

  it('leaves raw HTML as text', () => {
    const evil = '<img src=x onerror=alert(1)><script>alert(2)</script><b>bold</b><a href="javascript:alert(3)">x</a>';
    const el = html(evil);
    expect(el.textContent).toBe(evil);
    expect(el.querySelector('img, script, b, iframe')).toBeNull();
    expect(el.querySelector('a')).toBeNull();
    expectOnlySafe(el);

    const block = html('<div onclick="alert(1)">\n<iframe src="https://evil.test"></iframe>\n</div>');
    expect(block.querySelector('div div, iframe')).toBeNull();
    expectOnlySafe(block);
  });

  it('never links javascript:, data:, vbscript: or relative URLs, written as markdown or bare', () => {
    const bodies = [
      '[click](javascript:alert(1))',
      '[click](JaVaScRiPt:alert(1))',
      '[click](java\tscript:alert(1))',
      '[click](&#106;avascript:alert(1))',
      '[click](data:text/html;base64,PHNjcmlwdD4=)',
      '[click](vbscript:msgbox)',
      '[click](/relative)',
      '<javascript:alert(1)>',
      'javascript:alert(1)',
      'see javascript://%0Aalert(1)',
      '[x](https://ok.test "title") [y](ftp://files.test)',
    ];
    for (const b of bodies) {
      const el = html(b);
      for (const a of el.querySelectorAll('a')) expect(a.getAttribute('href')).toMatch(/^https:\/\/ok\.test/);
      expectOnlySafe(el);
    }
  });

  it('links http(s) URLs, markdown links and autolinks safely', () => {
    const el = html('bare https://example.com/a_b_c, [docs](https://docs.test/x?y=1) and <http://auto.test>');
    const links = [...el.querySelectorAll('a')];
    expect(links.map((a) => a.getAttribute('href'))).toEqual(['https://example.com/a_b_c', 'https://docs.test/x?y=1', 'http://auto.test/']);
    expect(links.map((a) => a.textContent)).toEqual(['https://example.com/a_b_c', 'docs', 'http://auto.test']);
    for (const a of links) {
      expect(a.getAttribute('rel')).toBe('noopener noreferrer');
      expect(a.getAttribute('target')).toBe('_blank');
    }
    // The real destination is visible on hover.
    expect(links[1].getAttribute('title')).toBe('https://docs.test/x?y=1');
  });

  it('does not link inside code', () => {
    expect(html('`https://example.com`').querySelector('a')).toBeNull();
    expect(html('```\nhttps://example.com\n```').querySelector('a')).toBeNull();
  });

  it('handles nested and unbalanced emphasis', () => {
    const el = html('***both*** **bold *and italic* ~~struck `code`~~** *unclosed **also');
    expect(el.querySelector('strong em, em strong')?.textContent).toBe('both');
    expect(el.querySelector('strong s code')?.textContent).toBe('code');
    expect(el.textContent).toContain('*unclosed **also');
    expectOnlySafe(el);
  });

  it('shows too deeply nested input as plain text instead of dropping it', () => {
    for (const body of [`${'> '.repeat(200)}deep`, `${'- '.repeat(200)}deep`]) {
      const el = html(body);
      expect(el.querySelectorAll('blockquote, li').length).toBe(0);
      expect(el.textContent).toBe(body);
    }
    expect(html('> > > three').querySelectorAll('blockquote')).toHaveLength(3);
  });

  it('renders 16 KiB of hostile input quickly', () => {
    const inputs = ['`'.repeat(16384), '`a'.repeat(8192), '*'.repeat(16384), '**a'.repeat(5461), '['.repeat(16384), '[a]('.repeat(4096), '_*~'.repeat(5461), '<'.repeat(16384), '\\'.repeat(16384)];
    for (const input of inputs) {
      // The best of three runs: the first warms up the JIT, and other test files share the CPU.
      let ms = Infinity;
      let nodes: React.ReactNode[] = [];
      for (let i = 0; i < 3; i++) {
        const t0 = performance.now();
        nodes = renderMarkdown(input);
        ms = Math.min(ms, performance.now() - t0);
      }
      expect(ms, `${JSON.stringify(input.slice(0, 4))}… took ${ms.toFixed(1)} ms`).toBeLessThan(100);
      // Into the DOM as well (jsdom is slow at creating thousands of elements, so only check
      // that what comes out is safe).
      const { container, unmount } = render(<div>{nodes}</div>);
      expectOnlySafe(container.firstElementChild as HTMLElement);
      unmount();
    }
  });

  it('renders 16 KiB of backticks into the page well under 100 ms', () => {
    // On a line of its own it opens a (never closed, empty) code block; after text it is text.
    for (const input of ['`'.repeat(16384), `a ${'`'.repeat(16384)}`]) {
      let ms = Infinity;
      for (let i = 0; i < 3; i++) {
        const t0 = performance.now();
        const { container, unmount } = render(<div>{renderMarkdown(input)}</div>);
        ms = Math.min(ms, performance.now() - t0);
        expectOnlySafe(container.firstElementChild as HTMLElement);
        unmount();
      }
      expect(ms).toBeLessThan(100);
    }
    expect(html(`a ${'`'.repeat(16384)}`).textContent).toBe(`a ${'`'.repeat(16384)}`);
  });

  it('decorates plain text only (not code or link labels)', () => {
    const el = html('hi @ann `@ann` [@ann](https://x.test)', (t, key) => t.split(/(@ann)/).map((p, i) => (p === '@ann' ? <mark key={`${key}-${i}`}>{p}</mark> : p)));
    expect(el.querySelectorAll('mark')).toHaveLength(1);
    expect(el.querySelector('code mark, a mark')).toBeNull();
  });
});

describe('safeHref', () => {
  it.each([
    ['https://a.test/x', 'https://a.test/x'],
    ['http://a.test', 'http://a.test/'],
    ['javascript:alert(1)', null],
    ['data:text/html,x', null],
    ['mailto:a@b.test', null],
    ['/relative', null],
    ['', null],
    [null, null],
  ])('%s -> %s', (input, want) => {
    expect(safeHref(input)).toBe(want);
  });
});
