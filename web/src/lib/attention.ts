// The tab's title and favicon tell a user in another tab that something is waiting: the count of
// unseen messages, and a badge on the icon (red when one of them mentions them).

import { useEffect, useState } from 'react';

/** The tab title: what is shown ("#general", or the other person of a direct message) and the unseen count. */
export function documentTitle(shown: string, unseen: number): string {
  return `${unseen > 0 ? `(${unseen > 999 ? '999+' : unseen}) ` : ''}${shown} · distchat`;
}

/** The text on the favicon badge: it has room for two characters. */
export function badgeText(count: number): string {
  if (count <= 0) return '';
  return count > 9 ? '9+' : String(count);
}

export const FAVICON = '/favicon.svg';
const SIZE = 64;

/**
 * Draws the icon with a badge as a PNG data URL (the page's CSP allows `img-src data:`), or
 * null when the browser has no 2D canvas.
 */
export function drawBadgedIcon(base: CanvasImageSource | null, count: number, mention: boolean, doc: Document = document): string | null {
  const canvas = doc.createElement('canvas');
  canvas.width = SIZE;
  canvas.height = SIZE;
  let ctx: CanvasRenderingContext2D | null = null;
  try {
    ctx = canvas.getContext('2d');
  } catch {
    return null;
  }
  if (!ctx) return null;
  if (base) {
    try {
      ctx.drawImage(base, 0, 0, SIZE, SIZE);
    } catch {
      // Not loaded (yet): the badge alone still says it.
    }
  }
  const r = 21;
  const cx = SIZE - r;
  const cy = r;
  ctx.beginPath();
  ctx.arc(cx, cy, r, 0, Math.PI * 2);
  ctx.fillStyle = mention ? '#e5484d' : '#4f5bd5';
  ctx.fill();
  ctx.lineWidth = 4;
  ctx.strokeStyle = '#ffffff';
  ctx.stroke();
  ctx.fillStyle = '#ffffff';
  ctx.font = 'bold 26px system-ui, sans-serif';
  ctx.textAlign = 'center';
  ctx.textBaseline = 'middle';
  ctx.fillText(badgeText(count), cx, cy + 1);
  try {
    return canvas.toDataURL('image/png');
  } catch {
    return null;
  }
}

function iconLink(doc: Document): HTMLLinkElement {
  let link = doc.querySelector<HTMLLinkElement>('link[rel="icon"]');
  if (!link) {
    link = doc.createElement('link');
    link.rel = 'icon';
    doc.head.appendChild(link);
  }
  return link;
}

/** Sets the favicon: the plain icon for 0, a badged one otherwise. */
export function setFavicon(count: number, mention: boolean, base: CanvasImageSource | null, doc: Document = document): void {
  const link = iconLink(doc);
  const url = count > 0 ? drawBadgedIcon(base, count, mention, doc) : null;
  if (url) {
    link.type = 'image/png';
    link.href = url;
  } else {
    link.type = 'image/svg+xml';
    link.href = FAVICON;
  }
}

/** Keeps the tab title and favicon in step with the unseen count. */
export function useAttention(shown: string, unseen: number, mention: boolean): void {
  const [base, setBase] = useState<HTMLImageElement | null>(null);
  useEffect(() => {
    if (typeof Image === 'undefined') return;
    const img = new Image();
    img.onload = () => setBase(img);
    img.src = FAVICON;
  }, []);
  useEffect(() => {
    document.title = documentTitle(shown, unseen);
  }, [shown, unseen]);
  useEffect(() => {
    setFavicon(unseen, mention, base);
  }, [unseen, mention, base]);
}
