/**
 * The browser side of notices: a short sound made with WebAudio (no asset files),
 * muted by the header toggle (persisted), and a system Notification while the tab is
 * hidden. Permission is only ever asked from a user gesture (the header's
 * "Enable notifications" button), never on load. What counts as a notice is decided
 * in notices.ts.
 */
import type { StorageLike } from '../protocol/storage';
import { wantsSystemNotification, type NoticeKind } from './notices';

export const MUTE_KEY = 'calma:console:muted';

/** Notes of each sound: [frequency Hz, start s, length s]. */
const TUNES: Record<NoticeKind, [number, number, number][]> = {
  // two soft rising notes
  message: [
    [659, 0, 0.12],
    [988, 0.11, 0.18],
  ],
  // a three-note arpeggio: something new to pick up
  assigned: [
    [523, 0, 0.12],
    [659, 0.12, 0.12],
    [784, 0.24, 0.22],
  ],
  // insistent beeps; repeated by severity
  escalation: [[880, 0, 0.18]],
};

export class Notifier {
  private ctx: AudioContext | null = null;
  private lastSound = 0;
  muted: boolean;

  constructor(private storage: StorageLike) {
    this.muted = storage.getItem(MUTE_KEY) === '1';
  }

  setMuted(muted: boolean): void {
    this.muted = muted;
    if (muted) this.storage.setItem(MUTE_KEY, '1');
    else this.storage.removeItem(MUTE_KEY);
  }

  /** Browsers only let audio start after a gesture: call from any click or key press. */
  unlockAudio(): void {
    const c = this.audio();
    if (c && c.state === 'suspended') void c.resume().catch(() => {});
  }

  private audio(): AudioContext | null {
    if (this.ctx) return this.ctx;
    try {
      const Ctx = window.AudioContext || (window as unknown as { webkitAudioContext?: typeof AudioContext }).webkitAudioContext;
      if (!Ctx) return null;
      this.ctx = new Ctx();
    } catch {
      this.ctx = null;
    }
    return this.ctx;
  }

  /** Plays the kind's sound (an escalation `times` times), at most one every 1.5 s except escalations. */
  sound(kind: NoticeKind, times = 1): void {
    if (this.muted) return;
    const now = Date.now();
    if (kind !== 'escalation' && now - this.lastSound < 1500) return;
    this.lastSound = now;
    const c = this.audio();
    if (!c) return;
    try {
      if (c.state === 'suspended') void c.resume().catch(() => {});
      const t0 = c.currentTime + 0.02;
      const notes = kind === 'escalation' ? Array.from({ length: Math.max(1, times) }, (_, i) => [880, i * 0.25, 0.18] as [number, number, number]) : TUNES[kind];
      for (const [freq, start, len] of notes) {
        const o = c.createOscillator();
        const g = c.createGain();
        o.type = kind === 'escalation' ? 'triangle' : 'sine';
        o.frequency.value = freq;
        g.gain.setValueAtTime(0.0001, t0 + start);
        g.gain.exponentialRampToValueAtTime(kind === 'escalation' ? 0.22 : 0.16, t0 + start + 0.015);
        g.gain.exponentialRampToValueAtTime(0.0001, t0 + start + len);
        o.connect(g).connect(c.destination);
        o.start(t0 + start);
        o.stop(t0 + start + len + 0.02);
      }
    } catch {
      /* no audio: the title and the notification still work */
    }
  }

  static supported(): boolean {
    return typeof window !== 'undefined' && 'Notification' in window;
  }

  static permission(): NotificationPermission | undefined {
    return Notifier.supported() ? Notification.permission : undefined;
  }

  /** Only from a click handler. Resolves to the resulting permission. */
  static async requestPermission(): Promise<NotificationPermission | undefined> {
    if (!Notifier.supported()) return undefined;
    try {
      return await Notification.requestPermission();
    } catch {
      return Notification.permission;
    }
  }

  /** A system notification, only while the tab is hidden and permission was granted. */
  system(title: string, body: string, tag: string, onClick?: () => void): void {
    if (!wantsSystemNotification(document.visibilityState === 'hidden', Notifier.permission())) return;
    try {
      const n = new Notification(title, { body, tag, silent: true });
      n.onclick = () => {
        window.focus();
        onClick?.();
        n.close();
      };
    } catch {
      /* some browsers only allow notifications from a service worker */
    }
  }
}
