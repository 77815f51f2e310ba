import type { ReactNode } from 'react';
import { useEffect, useLayoutEffect, useRef, useState } from 'react';
import { createPortal } from 'react-dom';

/** Where a popover points: an element's box, or a point (a long press). */
export interface Anchor {
  top: number;
  bottom: number;
  left: number;
  right: number;
}

export function anchorOf(el: Element | null): Anchor {
  const r = el?.getBoundingClientRect();
  return r ? { top: r.top, bottom: r.bottom, left: r.left, right: r.right } : { top: 0, bottom: 0, left: 0, right: 0 };
}

export interface PopoverProps {
  anchor: Anchor;
  onClose(): void;
  children: ReactNode;
  className?: string;
  role?: string;
  label: string;
  /** Align the popover's end with the anchor's end (default) or its start with the anchor's start. */
  align?: 'start' | 'end';
  testId?: string;
}

const MARGIN = 8;

/**
 * A floating panel rendered into <body> (outside the message log, so screen readers do not
 * announce it as a new message). It closes on Escape and on a press outside; on narrow screens
 * CSS turns it into a bottom sheet.
 */
export function Popover({ anchor, onClose, children, className = '', role = 'dialog', label, align = 'end', testId }: PopoverProps) {
  const ref = useRef<HTMLDivElement>(null);
  const [pos, setPos] = useState<{ top: number; left: number } | null>(null);

  useLayoutEffect(() => {
    const el = ref.current;
    if (!el) return;
    const w = el.offsetWidth;
    const h = el.offsetHeight;
    const vw = window.innerWidth;
    const vh = window.innerHeight;
    let left = align === 'end' ? anchor.right - w : anchor.left;
    left = Math.max(MARGIN, Math.min(left, vw - w - MARGIN));
    let top = anchor.bottom + 4;
    if (top + h > vh - MARGIN && anchor.top - h - 4 >= MARGIN) top = anchor.top - h - 4;
    top = Math.max(MARGIN, Math.min(top, vh - h - MARGIN));
    setPos({ top, left });
  }, [anchor, align]);

  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if (e.key === 'Escape') {
        e.stopPropagation();
        onClose();
      }
    };
    const onDown = (e: PointerEvent) => {
      if (ref.current && !ref.current.contains(e.target as Node)) onClose();
    };
    window.addEventListener('keydown', onKey, true);
    document.addEventListener('pointerdown', onDown, true);
    return () => {
      window.removeEventListener('keydown', onKey, true);
      document.removeEventListener('pointerdown', onDown, true);
    };
  }, [onClose]);

  return createPortal(
    <div
      ref={ref}
      className={`popover ${className}`}
      role={role}
      aria-label={label}
      style={pos ? { top: pos.top, left: pos.left } : { top: anchor.bottom, left: anchor.left, visibility: 'hidden' }}
      data-testid={testId}
    >
      {children}
    </div>,
    document.body,
  );
}
