// Chat markdown: markdown-it's tokens walked into React elements. Raw HTML is not parsed (it
// stays text), only a fixed set of token types becomes elements, and links must be http(s), so
// a message body can never inject markup, scripts or other URL schemes.

import MarkdownIt from 'markdown-it';
import type { Token } from 'markdown-it';
import type { ReactNode } from 'react';
import { CodeBlock } from '../components/CodeBlock';
import { linkify } from './linkify';

const MAX_NESTING = 20;

const md = new MarkdownIt('default', {
  html: false,
  linkify: false, // linkify.tsx links text tokens: http(s) only, with trailing punctuation handled
  breaks: true, // a newline in a chat message is a line break
  typographer: false,
  maxNesting: MAX_NESTING,
});
// Chat, not documents: "# topic" is not a heading, "---" not a rule, four spaces not a code
// block, and no tables, images or reference definitions.
md.disable(['table', 'code', 'hr', 'reference', 'heading', 'lheading', 'html_block', 'html_inline', 'image']);

export interface MarkdownOptions {
  /** Turns a run of plain text (no code, no link label) into nodes: mention highlighting. */
  decorate?: (text: string, key: string) => ReactNode[];
}

/** The URL of a markdown link when it is http(s), else null (the label is shown as text). */
export function safeHref(href: string | null | undefined): string | null {
  if (!href) return null;
  let url: URL;
  try {
    url = new URL(href);
  } catch {
    return null;
  }
  return url.protocol === 'http:' || url.protocol === 'https:' ? url.href : null;
}

interface Frame {
  type: string;
  token: Token | null;
  children: ReactNode[];
}

/** Renders a message body. Pure: the same body gives the same elements. */
export function renderMarkdown(body: string, opts: MarkdownOptions = {}): ReactNode[] {
  const tokens = md.parse(body, {});
  // Past its nesting limit markdown-it drops the rest of the block; show such a body as plain
  // text rather than lose what it says.
  if (tokens.some((t) => t.level >= MAX_NESTING - 1)) {
    return [
      <p key="plain" className="md-plain">
        {text(body, opts, false, 'plain')}
      </p>,
    ];
  }
  return walk(tokens, opts, false);
}

function walk(tokens: Token[], opts: MarkdownOptions, inLink: boolean): ReactNode[] {
  const root: Frame = { type: 'root', token: null, children: [] };
  const stack: Frame[] = [root];
  const top = () => stack[stack.length - 1];
  let key = 0;
  const k = () => `m${key++}`;

  for (const t of tokens) {
    if (t.nesting === 1) {
      stack.push({ type: t.type.replace(/_open$/, ''), token: t, children: [] });
      continue;
    }
    if (t.nesting === -1) {
      const frame = stack.length > 1 ? stack.pop()! : null;
      if (frame) top().children.push(element(frame, k(), t.hidden));
      continue;
    }
    const out = top().children;
    const linked = inLink || stack.some((f) => f.type === 'link');
    switch (t.type) {
      case 'inline':
        out.push(...walk(t.children ?? [], opts, linked));
        break;
      case 'text':
        out.push(...text(t.content, opts, linked, k()));
        break;
      case 'code_inline':
        out.push(
          <code key={k()} className="md-code">
            {t.content}
          </code>,
        );
        break;
      case 'fence':
        out.push(<CodeBlock key={k()} code={t.content.replace(/\n$/, '')} lang={t.info.trim().split(/\s+/)[0] ?? ''} />);
        break;
      case 'softbreak':
      case 'hardbreak':
        // The newline after <br> renders as nothing but keeps the text copyable line by line.
        out.push(<br key={k()} />, '\n');
        break;
      default:
        // A token type this renderer does not know is shown as its text, never as markup.
        if (t.content) out.push(t.content);
    }
  }
  // Unclosed frames (not produced by markdown-it, but cheap to guard) keep their content.
  while (stack.length > 1) {
    const frame = stack.pop()!;
    top().children.push(...frame.children);
  }
  return root.children;
}

function text(s: string, opts: MarkdownOptions, inLink: boolean, key: string): ReactNode[] {
  if (inLink) return [s];
  const out: ReactNode[] = [];
  linkify(s).forEach((part, i) => {
    if (typeof part === 'string' && opts.decorate) out.push(...opts.decorate(part, `${key}-${i}`));
    else out.push(part);
  });
  return out;
}

function element(frame: Frame, key: string, hidden: boolean): ReactNode {
  const c = frame.children;
  switch (frame.type) {
    case 'paragraph':
      // Paragraphs in tight lists are hidden: their text goes straight into the <li>.
      return hidden ? c : <p key={key}>{c}</p>;
    case 'blockquote':
      return <blockquote key={key}>{c}</blockquote>;
    case 'bullet_list':
      return <ul key={key}>{c}</ul>;
    case 'ordered_list': {
      const raw = frame.token?.attrGet('start');
      const start = raw === null || raw === undefined ? NaN : Number(raw);
      return (
        <ol key={key} start={Number.isSafeInteger(start) && start >= 0 ? start : undefined}>
          {c}
        </ol>
      );
    }
    case 'list_item':
      return <li key={key}>{c}</li>;
    case 'strong':
      return <strong key={key}>{c}</strong>;
    case 'em':
      return <em key={key}>{c}</em>;
    case 's':
      return <s key={key}>{c}</s>;
    case 'link': {
      const raw = frame.token?.attrGet('href');
      const href = safeHref(typeof raw === 'string' ? raw : null);
      if (!href) return c; // javascript:, data:, relative…: the label as plain text
      return (
        <a key={key} href={href} title={href} target="_blank" rel="noopener noreferrer">
          {c}
        </a>
      );
    }
    default:
      return c;
  }
}
