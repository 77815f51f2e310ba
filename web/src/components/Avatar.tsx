import type { CSSProperties } from 'react';
import { initials, nameHue } from '../lib/avatar';

export function Avatar({ name, size = 'md' }: { name: string; size?: 'sm' | 'md' | 'lg' }) {
  return (
    <span className={`avatar avatar-${size}`} style={{ '--hue': nameHue(name) } as CSSProperties} aria-hidden="true">
      {initials(name)}
    </span>
  );
}
