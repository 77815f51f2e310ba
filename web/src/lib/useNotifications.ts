import { useCallback, useEffect, useLayoutEffect, useRef, useState } from 'react';
import type { Alert } from '../chat/state';
import type { User } from '../protocol/types';
import type { Permission } from './notify';
import { createPinger, notificationPermission, requestNotificationPermission, shouldOfferNotifications, showMentionNotification } from './notify';
import type { Settings } from './settings';
import { bannerDismissed, dismissBanner, loadSettings, saveSettings } from './settings';

export interface Notifications {
  settings: Settings;
  setSettings(s: Settings): void;
  permission: Permission;
  /** Asks the browser for permission; call from a click. */
  request(): void;
  /** Show the "Enable desktop notifications" banner. */
  offer: boolean;
  dismissOffer(): void;
  /** The user did something that makes notifications worth offering (sent a message). */
  engage(): void;
}

/**
 * Turns mention alerts into desktop notifications (and a ping), following the user's settings.
 * Permission is asked only from a click: the banner appears once the user has written a
 * message or been mentioned, never on page load.
 */
export function useNotifications(alerts: Alert[], shown: (upTo: number) => void, openRoom: (room: string) => void, nameOf: (u: User) => string = (u) => u.name): Notifications {
  const [settings, setSettingsState] = useState(loadSettings);
  const [permission, setPermission] = useState<Permission>(notificationPermission);
  const [dismissed, setDismissed] = useState(bannerDismissed);
  const [engaged, setEngaged] = useState(false);
  const [pinger] = useState(createPinger);
  // How people are named changes with who is in view; that alone must not notify again.
  const name = useRef(nameOf);
  useLayoutEffect(() => {
    name.current = nameOf;
  });

  useEffect(() => {
    if (alerts.length === 0) return;
    setEngaged(true);
    const perm = notificationPermission();
    setPermission(perm);
    if (settings.notifications && perm === 'granted') {
      for (const a of alerts) showMentionNotification({ room: a.room, from: name.current(a.from), body: a.body, tag: a.messageId, dm: a.dm }, () => openRoom(a.room));
    }
    if (settings.sound) pinger.play();
    shown(alerts[alerts.length - 1].id);
  }, [alerts, settings, pinger, shown, openRoom]);

  const setSettings = useCallback((s: Settings) => {
    saveSettings(s);
    setSettingsState(s);
  }, []);

  const request = useCallback(() => {
    void requestNotificationPermission().then(setPermission);
  }, []);

  const dismissOffer = useCallback(() => {
    dismissBanner();
    setDismissed(true);
  }, []);

  const engage = useCallback(() => setEngaged(true), []);

  return {
    settings,
    setSettings,
    permission,
    request,
    offer: shouldOfferNotifications(permission, settings.notifications, dismissed, engaged),
    dismissOffer,
    engage,
  };
}
