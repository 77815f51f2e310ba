import type { CSSProperties } from 'react';
import { initials, nameHue } from '../lib/avatar';

/**
 * Initials on a colour. The colour derives from `color` when given (the user id, so that two
 * people with one name look different) and from the name otherwise.
 */
export function Avatar({ name, color, size = 'md' }: { name: string; color?: string; size?: 'sm' | 'md' | 'lg' }) {
  return (
    <span className={`avatar avatar-${size}`} style={{ '--hue': nameHue(color ?? name) } as CSSProperties} aria-hidden="true">
      {initials(name)}
    </span>
  );
}
