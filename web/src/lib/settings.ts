// The user's preferences, kept in localStorage (never throws: private mode, quota, disabled).

export interface Settings {
  /** Desktop notifications for mentions and direct messages (also needs the browser's permission). */
  notifications: boolean;
  /** A short sound with a mention notification. */
  sound: boolean;
}

export const DEFAULT_SETTINGS: Settings = { notifications: true, sound: true };

const SETTINGS_KEY = 'distchat.settings';
const BANNER_KEY = 'distchat.notify-banner';

export function loadSettings(): Settings {
  try {
    const raw = window.localStorage.getItem(SETTINGS_KEY);
    const v: unknown = raw ? JSON.parse(raw) : null;
    if (!v || typeof v !== 'object') return DEFAULT_SETTINGS;
    const o = v as Partial<Record<keyof Settings, unknown>>;
    return {
      notifications: typeof o.notifications === 'boolean' ? o.notifications : DEFAULT_SETTINGS.notifications,
      sound: typeof o.sound === 'boolean' ? o.sound : DEFAULT_SETTINGS.sound,
    };
  } catch {
    return DEFAULT_SETTINGS;
  }
}

export function saveSettings(s: Settings): void {
  try {
    window.localStorage.setItem(SETTINGS_KEY, JSON.stringify(s));
  } catch {
    // Works for this visit.
  }
}

/** The "Enable desktop notifications" banner was dismissed with "Not now". */
export function bannerDismissed(): boolean {
  try {
    return window.localStorage.getItem(BANNER_KEY) === 'dismissed';
  } catch {
    return false;
  }
}

export function dismissBanner(): void {
  try {
    window.localStorage.setItem(BANNER_KEY, 'dismissed');
  } catch {
    // Shown again next visit.
  }
}
