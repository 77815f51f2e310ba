import type { KeyboardEvent, ReactNode } from 'react';
import { Fragment, useEffect, useRef } from 'react';
import type { Anchor } from './Popover';
import { Popover } from './Popover';

export interface MenuItem {
  key: string;
  label: string;
  icon?: ReactNode;
  danger?: boolean;
  /** A checkbox item (settings). */
  checked?: boolean;
  /** A line under the label. */
  hint?: string;
  /** A rule above it: the item does something of another kind than the ones before. */
  separated?: boolean;
  onSelect(): void;
}

export interface MenuProps {
  anchor: Anchor;
  label: string;
  items: MenuItem[];
  /** Closes the menu; the caller puts the focus back on what opened it. */
  onClose(): void;
  testId?: string;
  /** Line the menu up with the anchor's end (default) or its start. */
  align?: 'start' | 'end';
}

/** A keyboard-friendly menu: arrows, Home/End, Enter/Space, Escape; focus starts on the first item. */
export function Menu({ anchor, label, items, onClose, testId = 'menu', align }: MenuProps) {
  const list = useRef<HTMLDivElement>(null);

  useEffect(() => {
    list.current?.querySelector<HTMLElement>('[role^="menuitem"]')?.focus();
  }, []);

  const onKeyDown = (e: KeyboardEvent<HTMLDivElement>) => {
    const all = [...(list.current?.querySelectorAll<HTMLElement>('[role^="menuitem"]') ?? [])];
    const i = all.indexOf(document.activeElement as HTMLElement);
    let next = -1;
    if (e.key === 'ArrowDown') next = (i + 1) % all.length;
    else if (e.key === 'ArrowUp') next = (i - 1 + all.length) % all.length;
    else if (e.key === 'Home') next = 0;
    else if (e.key === 'End') next = all.length - 1;
    else if (e.key === 'Tab') {
      e.preventDefault();
      onClose();
      return;
    }
    if (next >= 0) {
      e.preventDefault();
      all[next]?.focus();
    }
  };

  return (
    <Popover anchor={anchor} onClose={onClose} className="menu" role="presentation" label={label} testId={testId} align={align}>
      <div ref={list} role="menu" aria-label={label} onKeyDown={onKeyDown}>
        {items.map((item) => (
          <Fragment key={item.key}>
            {item.separated && <div role="separator" className="menu-separator" />}
            <button
              type="button"
              role={item.checked === undefined ? 'menuitem' : 'menuitemcheckbox'}
              aria-checked={item.checked}
              tabIndex={-1}
              className={`menu-item${item.danger ? ' danger' : ''}`}
              onClick={() => {
                onClose();
                item.onSelect();
              }}
              data-testid={`menu-${item.key}`}
            >
              {item.checked !== undefined ? (
                <span className={`menu-check${item.checked ? ' on' : ''}`} aria-hidden="true" />
              ) : (
                item.icon && (
                  <span className="menu-icon" aria-hidden="true">
                    {item.icon}
                  </span>
                )
              )}
              <span className="menu-text">
                <span>{item.label}</span>
                {item.hint && <span className="menu-hint">{item.hint}</span>}
              </span>
            </button>
          </Fragment>
        ))}
      </div>
    </Popover>
  );
}
