import { useRef, useState } from 'react';
import type { Permission } from '../lib/notify';
import type { Settings } from '../lib/settings';
import { Menu } from './Menu';
import type { Anchor } from './Popover';
import { anchorOf } from './Popover';

export interface SettingsMenuProps {
  settings: Settings;
  permission: Permission;
  onChange(next: Settings): void;
  /** Asks the browser for permission (from this click). */
  onRequestPermission(): void;
  /** The server has direct messages (identity): they notify like mentions. */
  dms?: boolean;
  /** Offers "Sign out" (a server with identity); the caller asks for confirmation. */
  onSignOut?: () => void;
  /** Offers "Sign out everywhere" beside it; the caller asks for confirmation. */
  onSignOutEverywhere?: () => void;
}

/** What notifies: mentions, and with a server that has them, every direct message. */
export function alertsWhat(dms: boolean): string {
  return dms ? 'mentions and direct messages' : 'mentions';
}

function notificationHint(permission: Permission, on: boolean): string | undefined {
  if (permission === 'unsupported') return 'Not supported by this browser';
  if (permission === 'denied') return 'Blocked in the browser’s site settings';
  if (permission === 'default' && on) return 'The browser will ask for permission';
  return undefined;
}

/** A gear button with the notification preferences (kept in localStorage). */
export function SettingsMenu({ settings, permission, onChange, onRequestPermission, dms = false, onSignOut, onSignOutEverywhere }: SettingsMenuProps) {
  const [anchor, setAnchor] = useState<Anchor | null>(null);
  const button = useRef<HTMLButtonElement>(null);
  return (
    <>
      <button
        ref={button}
        type="button"
        className="icon-button"
        aria-label="Settings"
        title="Settings"
        aria-haspopup="menu"
        aria-expanded={anchor !== null}
        onClick={() => setAnchor(anchorOf(button.current))}
        data-testid="settings-button"
      >
        <svg viewBox="0 0 20 20" width="18" height="18" aria-hidden="true">
          <path
            d="M10 12.6a2.6 2.6 0 1 0 0-5.2 2.6 2.6 0 0 0 0 5.2zm6.2-1.4.1-1.2-.1-1.2 1.5-1.2-1.5-2.6-1.8.7a6 6 0 0 0-2-1.2L12.1 2H9l-.3 1.9a6 6 0 0 0-2 1.2l-1.8-.7-1.5 2.6 1.5 1.2L4.8 10l.1 1.2-1.5 1.2 1.5 2.6 1.8-.7a6 6 0 0 0 2 1.2L9 18h3.1l.3-1.9a6 6 0 0 0 2-1.2l1.8.7 1.5-2.6z"
            fill="none"
            stroke="currentColor"
            strokeWidth="1.4"
            strokeLinejoin="round"
          />
        </svg>
      </button>
      {anchor && (
        <Menu
          anchor={anchor}
          label="Settings"
          testId="settings-menu"
          onClose={() => {
            setAnchor(null);
            button.current?.focus();
          }}
          items={[
            {
              key: 'notifications',
              label: `Desktop notifications for ${alertsWhat(dms)}`,
              checked: settings.notifications && permission !== 'denied' && permission !== 'unsupported',
              hint: notificationHint(permission, settings.notifications),
              onSelect: () => {
                const on = !settings.notifications;
                onChange({ ...settings, notifications: on });
                if (on && permission === 'default') onRequestPermission();
              },
            },
            {
              key: 'sound',
              label: `Sound for ${alertsWhat(dms)}`,
              checked: settings.sound,
              onSelect: () => onChange({ ...settings, sound: !settings.sound }),
            },
            ...(onSignOut
              ? [{ key: 'sign-out', label: 'Sign out', hint: 'Become a new person here', icon: <SignOutIcon />, danger: true, separated: true, onSelect: onSignOut }]
              : []),
            ...(onSignOutEverywhere
              ? [{ key: 'sign-out-everywhere', label: 'Sign out everywhere', hint: 'End your session on every device', icon: <EverywhereIcon />, danger: true, separated: !onSignOut, onSelect: onSignOutEverywhere }]
              : []),
          ]}
        />
      )}
    </>
  );
}

function SignOutIcon() {
  return (
    <svg viewBox="0 0 16 16" width="15" height="15" aria-hidden="true">
      <path d="M6.5 2.5h-3a1 1 0 0 0-1 1v9a1 1 0 0 0 1 1h3M10 5l3 3-3 3M13 8H6" fill="none" stroke="currentColor" strokeWidth="1.5" strokeLinecap="round" strokeLinejoin="round" />
    </svg>
  );
}

function EverywhereIcon() {
  return (
    <svg viewBox="0 0 16 16" width="15" height="15" aria-hidden="true">
      <rect x="1.5" y="3" width="9" height="6.5" rx="1" fill="none" stroke="currentColor" strokeWidth="1.4" />
      <path d="M4 12h4" stroke="currentColor" strokeWidth="1.4" strokeLinecap="round" />
      <rect x="11" y="6" width="3.5" height="7" rx="0.8" fill="none" stroke="currentColor" strokeWidth="1.4" />
    </svg>
  );
}

/** The offer to turn on desktop notifications, shown once the user has a reason to want them. */
export function NotificationBanner({ onEnable, onDismiss, dms = false }: { onEnable(): void; onDismiss(): void; dms?: boolean }) {
  return (
    <div className="banner" role="region" aria-label="Desktop notifications" data-testid="notify-banner">
      <span className="banner-text">{dms ? 'Get a notification when someone mentions you or sends you a direct message.' : 'Get a notification when someone mentions you.'}</span>
      <span className="banner-actions">
        <button type="button" className="button small primary" onClick={onEnable} data-testid="notify-enable">
          Enable desktop notifications
        </button>
        <button type="button" className="button small secondary" onClick={onDismiss} data-testid="notify-dismiss">
          Not now
        </button>
      </span>
    </div>
  );
}
