import type { ReactNode } from 'react';
import { useId, useMemo, useState } from 'react';
import { renderMarkdown } from '../lib/markdown';
import { splitMentions } from '../lib/mentions';

/** Bodies longer than this (characters or lines) start collapsed behind "Show more". */
export const LONG_CHARS = 1200;
export const LONG_LINES = 16;

export function isLongBody(body: string): boolean {
  if (body.length > LONG_CHARS) return true;
  let lines = 1;
  for (let i = body.indexOf('\n'); i !== -1; i = body.indexOf('\n', i + 1)) if (++lines > LONG_LINES) return true;
  return false;
}

export interface MessageBodyProps {
  body: string;
  /** The user's name: its mentions are highlighted. */
  mentionName?: string | null;
}

/** Highlights mentions of `name` in a run of plain text. */
export function mentionDecorator(name: string | null | undefined): ((text: string, key: string) => ReactNode[]) | undefined {
  if (!name) return undefined;
  return (text, key) =>
    splitMentions(text, name).map((part, i) =>
      typeof part === 'string' ? (
        part
      ) : (
        <mark key={`${key}-${i}`} className="mention mention-me" data-testid="mention-me">
          {part.mention}
        </mark>
      ),
    );
}

/**
 * A message's text as chat markdown. `dir="auto"` lets right-to-left text lay out from the
 * right; very long bodies are collapsed until the reader asks for the rest.
 */
export function MessageBody({ body, mentionName }: MessageBodyProps) {
  const nodes = useMemo(() => renderMarkdown(body, { decorate: mentionDecorator(mentionName) }), [body, mentionName]);
  const long = isLongBody(body);
  const [expanded, setExpanded] = useState(false);
  const id = useId();
  const collapsed = long && !expanded;
  return (
    <>
      <div id={id} className={`msg-body md${collapsed ? ' msg-collapsed' : ''}`} dir="auto" data-testid="message-body">
        {nodes}
      </div>
      {long && (
        <button type="button" className="link-button show-more" aria-expanded={expanded} aria-controls={id} onClick={() => setExpanded((e) => !e)} data-testid="show-more">
          {expanded ? 'Show less' : 'Show more'}
        </button>
      )}
    </>
  );
}
