import { useEffect, useState } from 'react';

/** Copies text to the clipboard; false when the browser refuses (no permission, insecure origin). */
export async function copyText(text: string): Promise<boolean> {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    return false;
  }
}

/** A fenced code block: monospace, scrolls sideways instead of wrapping, with a copy button. */
export function CodeBlock({ code, lang }: { code: string; lang: string }) {
  const [copied, setCopied] = useState<'ok' | 'failed' | null>(null);
  useEffect(() => {
    if (!copied) return;
    const t = setTimeout(() => setCopied(null), 1500);
    return () => clearTimeout(t);
  }, [copied]);
  return (
    <div className="md-pre" data-testid="code-block">
      <div className="md-pre-bar">
        <span className="md-pre-lang">{lang}</span>
        <button type="button" className="md-copy" aria-label="Copy code" onClick={() => void copyText(code).then((ok) => setCopied(ok ? 'ok' : 'failed'))} data-testid="code-copy">
          {copied === 'ok' ? 'Copied' : copied === 'failed' ? 'Copy failed' : 'Copy'}
        </button>
      </div>
      {/* Focusable so keyboard users can scroll a wide block sideways. */}
      <pre tabIndex={0} dir="ltr">
        <code>{code}</code>
      </pre>
    </div>
  );
}
