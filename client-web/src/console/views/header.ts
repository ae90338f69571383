/**
 * The top bar: brand and role, connection state, the view tabs (conversations,
 * follow-ups with their count, reports for supervisors), presence, language menu, sound toggle, the
 * "Enable notifications" button, who is signed in, sign out.
 */
import type { ConnState } from '../../protocol/client';
import type { PresenceStatus } from '../../protocol/types';
import { h, icon, initials } from '../../shared/dom';
import { LANGS, LANG_NAMES, getLang, t, type Lang } from '../i18n';

export type Tab = 'conversations' | 'followups' | 'reports';

/** Speaker icons (fixed path data). */
const SOUND_ON = 'M3 9v6h4l5 5V4L7 9H3zm13.5 3A4.5 4.5 0 0 0 14 7.97v8.05c1.48-.73 2.5-2.25 2.5-4.02zM14 3.23v2.06c2.89.86 5 3.54 5 6.71s-2.11 5.85-5 6.71v2.06c4.01-.91 7-4.49 7-8.77s-2.99-7.86-7-8.77z';
const SOUND_OFF = 'M16.5 12A4.5 4.5 0 0 0 14 7.97v2.21l2.45 2.45c.03-.2.05-.41.05-.63zm2.5 0c0 .94-.2 1.82-.54 2.64l1.51 1.51A8.8 8.8 0 0 0 21 12c0-4.28-2.99-7.86-7-8.77v2.06c2.89.86 5 3.54 5 6.71zM4.27 3 3 4.27 7.73 9H3v6h4l5 5v-6.73l4.25 4.25c-.67.52-1.42.93-2.25 1.18v2.06a8.99 8.99 0 0 0 3.69-1.81L19.73 21 21 19.73l-9-9L4.27 3zM12 4 9.91 6.09 12 8.18V4z';

/** The language menu (header and login form). Names are each language's own. */
export function langSelect(onLang: (l: Lang) => void, testid = 'lang'): HTMLSelectElement {
  const sel = h('select', { class: 'lang-select', 'aria-label': t().language, title: t().language, 'data-testid': testid }, ...LANGS.map((l) => h('option', { value: l, lang: l }, LANG_NAMES[l])));
  sel.value = getLang();
  sel.addEventListener('change', () => onLang(sel.value as Lang));
  return sel;
}

export interface HeaderActions {
  onPresence(status: PresenceStatus): void;
  onLang(lang: Lang): void;
  onMute(muted: boolean): void;
  onEnableNotifications(): void;
  onTab(tab: Tab): void;
  onLogout(): void;
}

export interface HeaderState {
  conn: ConnState;
  presence: PresenceStatus | null;
  capacity: number | null;
  muted: boolean;
  /** Notification.permission, undefined when the browser has no notifications */
  permission: NotificationPermission | undefined;
  tab: Tab;
  followups: number;
}

export class HeaderView {
  readonly el: HTMLElement;
  private conn: HTMLElement;
  private presence: HTMLSelectElement;
  private mute: HTMLButtonElement;
  private notify: HTMLButtonElement;
  private tabs: Partial<Record<Tab, HTMLButtonElement>>;
  private tabOrder: Tab[];
  private fuCount: HTMLElement;

  constructor(name: string, supervisor: boolean, actions: HeaderActions) {
    const s = t();
    this.conn = h('span', { class: 'conn', 'data-testid': 'conn', role: 'status' }, s.connecting);
    this.presence = h(
      'select',
      { class: 'presence', 'aria-label': s.presence, 'data-testid': 'presence' },
      h('option', { value: 'online' }, s.presenceOnline),
      h('option', { value: 'away' }, s.presenceAway),
      h('option', { value: 'offline' }, s.presenceOffline),
    );
    this.presence.value = 'online';
    this.presence.addEventListener('change', () => actions.onPresence(this.presence.value as PresenceStatus));

    this.mute = h('button', { class: 'btn ghost icon-btn', type: 'button', 'data-testid': 'mute' });
    this.mute.addEventListener('click', () => actions.onMute(this.mute.getAttribute('aria-pressed') !== 'true'));
    this.notify = h('button', { class: 'btn ghost', type: 'button', 'data-testid': 'notify-enable', hidden: true }, s.enableNotifications);
    this.notify.addEventListener('click', () => actions.onEnableNotifications());

    this.fuCount = h('span', { class: 'tab-count', 'data-testid': 'followups-count', hidden: true }, '0');
    const tab = (id: Tab, label: string, extra?: HTMLElement) => {
      const b = h('button', { class: 'tab', type: 'button', role: 'tab', id: `tab-${id}`, 'aria-controls': `panel-${id}`, 'aria-selected': 'false', 'data-testid': `tab-${id}` }, label, extra ?? null);
      b.addEventListener('click', () => actions.onTab(id));
      b.addEventListener('keydown', (e) => {
        if (e.key === 'ArrowRight' || e.key === 'ArrowLeft') {
          e.preventDefault();
          const order = this.tabOrder;
          const i = order.indexOf(id);
          const other = order[(i + (e.key === 'ArrowRight' ? 1 : order.length - 1)) % order.length];
          actions.onTab(other);
          this.tabs[other]?.focus();
        }
      });
      return b;
    };
    this.tabs = { conversations: tab('conversations', s.tabConversations), followups: tab('followups', s.tabFollowups + ' ', this.fuCount) };
    // Reports are for supervisors only: agents get no tab at all.
    if (supervisor) this.tabs.reports = tab('reports', s.tabReports);
    this.tabOrder = (['conversations', 'followups', 'reports'] as Tab[]).filter((id) => this.tabs[id]);

    const logout = h('button', { class: 'btn ghost', type: 'button', 'data-testid': 'logout' }, s.signOut);
    logout.addEventListener('click', () => actions.onLogout());
    this.el = h(
      'header',
      { class: 'top' },
      h('div', { class: 'brand' }, h('span', { class: 'logo', 'aria-hidden': 'true' }), 'Calma', h('span', { class: 'brand-sub' }, supervisor ? s.roleSupervisor : s.roleAgent)),
      this.conn,
      h('nav', { class: 'tabs', role: 'tablist', 'aria-label': s.views }, ...this.tabOrder.map((id) => this.tabs[id]!)),
      h('div', { class: 'spacer' }),
      h('label', { class: 'presence-label' }, h('span', { class: 'sr-only' }, s.presence), this.presence),
      langSelect(actions.onLang),
      this.mute,
      this.notify,
      h('div', { class: 'me', 'data-testid': 'me', title: name }, h('span', { class: 'avatar sm' }, initials(name)), h('span', {}, name)),
      logout,
    );
  }

  render(st: HeaderState): void {
    const s = t();
    const labels: Record<ConnState, string> = {
      connected: s.connected,
      connecting: s.connecting,
      authenticating: s.connecting,
      disconnected: s.reconnecting,
      stopped: s.offline,
    };
    this.conn.textContent = labels[st.conn];
    this.conn.className = 'conn ' + (st.conn === 'connected' ? 'ok' : 'bad');
    if (st.presence && this.presence.value !== st.presence && document.activeElement !== this.presence) this.presence.value = st.presence;
    this.presence.dataset.status = st.presence ?? '';
    this.presence.title = st.capacity != null ? s.capacity(st.capacity) : '';

    this.mute.setAttribute('aria-pressed', String(st.muted));
    this.mute.setAttribute('aria-label', st.muted ? s.soundOff : s.soundOn);
    this.mute.title = `${s.sounds}: ${st.muted ? s.soundOff : s.soundOn}`;
    if (this.mute.dataset.muted !== String(st.muted)) {
      this.mute.dataset.muted = String(st.muted);
      this.mute.replaceChildren(icon(st.muted ? SOUND_OFF : SOUND_ON, 18));
    }
    this.mute.classList.toggle('off', st.muted);

    // Asked only from this button (a user gesture); gone once the browser has an answer.
    this.notify.hidden = st.permission !== 'default';

    for (const id of this.tabOrder) {
      const b = this.tabs[id]!;
      const on = st.tab === id;
      b.setAttribute('aria-selected', String(on));
      b.tabIndex = on ? 0 : -1;
      b.classList.toggle('on', on);
    }
    this.fuCount.textContent = String(st.followups);
    this.fuCount.hidden = st.followups === 0;
    this.tabs.followups!.setAttribute('aria-label', `${s.tabFollowups}: ${s.nFollowups(st.followups)}`);
  }
}
