// Desktop notifications for mentions and direct messages. Permission is never asked on page load: only from a
// click (the banner or the settings menu), as browsers require and people prefer.

export type Permission = 'default' | 'granted' | 'denied' | 'unsupported';

export function notificationPermission(): Permission {
  if (typeof window === 'undefined' || typeof window.Notification === 'undefined') return 'unsupported';
  return window.Notification.permission;
}

/** Asks the browser; call only from a user gesture. */
export async function requestNotificationPermission(): Promise<Permission> {
  if (notificationPermission() === 'unsupported') return 'unsupported';
  try {
    return await window.Notification.requestPermission();
  } catch {
    return notificationPermission();
  }
}

/**
 * Whether to offer "Enable desktop notifications": the browser could show them, the user has
 * not decided yet, has not turned them off here or dismissed the offer, and something happened
 * that makes the offer make sense (they wrote a message, or were mentioned).
 */
export function shouldOfferNotifications(permission: Permission, enabled: boolean, dismissed: boolean, engaged: boolean): boolean {
  return permission === 'default' && enabled && !dismissed && engaged;
}

/** One line of plain text from a markdown body, for a notification. */
export function plainPreview(body: string, max = 140): string {
  const text = body
    .replace(/```[\s\S]*?(```|$)/g, ' [code] ')
    .replace(/[*_~`>#]+/g, '')
    .replace(/\s+/g, ' ')
    .trim();
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

export interface MentionNote {
  room: string;
  from: string;
  body: string;
  tag: string;
  /** A direct message: every one is worth a notification, not only mentions. */
  dm?: boolean;
}

/** Shows a notification; clicking it focuses the tab and calls `onClick`. */
export function showMentionNotification(n: MentionNote, onClick: () => void): boolean {
  if (notificationPermission() !== 'granted') return false;
  try {
    const title = n.dm ? `New message from ${n.from}` : `${n.from} mentioned you in #${n.room}`;
    const note = new window.Notification(title, { body: plainPreview(n.body), tag: n.tag, icon: '/favicon.svg' });
    note.onclick = () => {
      window.focus();
      onClick();
      note.close();
    };
    return true;
  } catch {
    // Some browsers only allow notifications from a service worker.
    return false;
  }
}

/**
 * A short, quiet two-tone ping made with Web Audio (no sound file to load). The audio context
 * is created on the first ping and kept by the returned object.
 */
export function createPinger(): { play(): void } {
  let audio: AudioContext | null = null;
  return {
    play() {
      try {
        const Ctx = window.AudioContext ?? (window as unknown as { webkitAudioContext?: typeof AudioContext }).webkitAudioContext;
        if (!Ctx) return;
        audio ??= new Ctx();
        const t = audio.currentTime;
        const gain = audio.createGain();
        gain.gain.setValueAtTime(0.0001, t);
        gain.gain.exponentialRampToValueAtTime(0.12, t + 0.02);
        gain.gain.exponentialRampToValueAtTime(0.0001, t + 0.35);
        gain.connect(audio.destination);
        for (const [freq, at] of [
          [880, 0],
          [1320, 0.09],
        ] as const) {
          const osc = audio.createOscillator();
          osc.type = 'sine';
          osc.frequency.setValueAtTime(freq, t + at);
          osc.connect(gain);
          osc.start(t + at);
          osc.stop(t + at + 0.25);
        }
      } catch {
        // No sound is fine.
      }
    },
  };
}
