/**
 * Agent and supervisor console: composes the views (views/*.ts) over one protocol
 * client and one view model (model.ts). The role from login decides what is shown:
 * agents see their conversations; supervisors additionally see queues, agents and
 * escalations, and can join (monitor / whisper / barge) or take over any conversation.
 * Everyone has the follow-up list; supervisors also have the reports. Beside the anger
 * curve, the conversation's audit trail (refetched after the frames that add to it);
 * in its header, its causes, which staff can correct. All text is set through textContent (shared/dom.ts)
 * and comes from the string table (i18n.ts).
 *
 * This file: session and language, the WebSocket and what its frames do to the model,
 * notices (sound, system notification, title), and which view shows what.
 */
import { CalmaClient, type ConnState } from '../protocol/client';
import { safeStorage, type StorageLike } from '../protocol/storage';
import type { SocketFactory } from '../protocol/transport';
import type { CannedAnswer, ChatMessage, ConsoleServerMessage, PresenceStatus, Severity, StoreInfo, Welcome } from '../protocol/types';
import { wsUrlFor } from '../protocol/index';
import { h } from '../shared/dom';
import { fetchCanned, fetchConversation, fetchFollowups, type Session } from './api';
import { KeyedDebouncer, applyDetail, auditConversation } from './audit';
import { CannedCache, cannedLangs, type CannedEntry, type PlaceholderValues } from './canned';
import { FollowupsStore } from './followups';
import { LANG_KEY, getLang, pickLang, setLang, t, type Lang } from './i18n';
import { applyFrame } from './events';
import { ConsoleModel, type ConvVM } from './model';
import { isMessageNotice, titleText, unreadTotal, type NoticeKind } from './notices';
import { Notifier } from './notifier';
import { AuditView } from './views/audit';
import { ChatView } from './views/chat';
import type { Ctx } from './views/ctx';
import { CurveView } from './views/curve';
import { FollowupsView } from './views/followups';
import { HeaderView, type Tab } from './views/header';
import { InboxView } from './views/inbox';
import { ListView } from './views/list';
import { renderLogin } from './views/login';
import { QueueView } from './views/queue';
import { ReportState, ReportsView } from './views/reports';

const SESSION_KEY = 'calma:console:session';

export interface ConsoleOptions {
  /** tests: a fake WebSocket */
  createSocket?: SocketFactory;
  /** where the session lives (default sessionStorage) */
  sessionStorage?: StorageLike;
  /** where preferences live: language, mute (default localStorage) */
  prefsStorage?: StorageLike;
  wsUrl?: string;
  /** default navigator.languages */
  languages?: readonly string[];
}

interface Views {
  header: HeaderView;
  list: ListView;
  chat: ChatView;
  curve: CurveView;
  audit: AuditView;
  inbox: InboxView | null;
  queue: QueueView | null;
  followups: FollowupsView;
  reports: ReportsView | null;
  side: HTMLElement;
  insight: HTMLElement;
  toast: HTMLElement;
}

export class ConsoleApp implements Ctx {
  private store: StorageLike;
  private prefs: StorageLike;
  private _session: Session | null = null;
  private client: CalmaClient | null = null;
  /** when agents.list was last asked (see refreshColleagues) */
  private colleaguesAskedAt = 0;
  model!: ConsoleModel;
  selected: string | null = null;
  private presence: PresenceStatus | null = null;
  private capacity: number | null = null;
  private connState: ConnState = 'disconnected';
  private renderQueued = false;
  private ticker: ReturnType<typeof setInterval> | null = null;
  /** per conversation, the number of the latest detail request (older answers are dropped) */
  private detailSeq = new Map<string, number>();
  /** refetches the audit trail of a conversation shortly after the frames that add to it */
  private auditLater = new KeyedDebouncer(600, (id) => {
    if (id === this.selected) this.loadDetail(id);
  });
  private reportState: ReportState | null = null;
  private typingSentAt = 0;
  private typingStop: ReturnType<typeof setTimeout> | null = null;
  private seenEscalations = new Set<string>();
  private titleFlash: ReturnType<typeof setInterval> | null = null;
  private titleFlashEnd: ReturnType<typeof setTimeout> | null = null;
  private flashLabel: string | null = null;
  private flashOn = false;
  private ticks = 0;
  private tab: Tab = 'conversations';
  private stores: StoreInfo[] = [];
  private notifier: Notifier;
  private canned!: CannedCache;
  private followups!: FollowupsStore;
  private views: Views | null = null;
  private loginMessage: string | undefined;

  constructor(
    private root: HTMLElement,
    private opts: ConsoleOptions = {},
  ) {
    this.store = opts.sessionStorage ?? safeStorage('session');
    this.prefs = opts.prefsStorage ?? safeStorage('local');
    this.notifier = new Notifier(this.prefs);
    const langs = opts.languages ?? (typeof navigator !== 'undefined' ? navigator.languages ?? [navigator.language] : []);
    this.applyLang(pickLang(this.prefs.getItem(LANG_KEY), langs));
  }

  start(): void {
    const raw = this.store.getItem(SESSION_KEY);
    if (raw) {
      try {
        this._session = JSON.parse(raw) as Session;
      } catch {
        this._session = null;
      }
    }
    this.listenWindowOnce();
    if (this._session) this.showMain();
    else this.showLogin();
  }

  // ---- Ctx (what the views use) -----------------------------------------------------

  get session(): Session {
    return this._session!;
  }

  get isSupervisor(): boolean {
    return this._session?.role === 'supervisor';
  }

  select(id: string): void {
    this.selected = id;
    this.views?.chat.scrollToEnd();
    this.client?.follow(id);
    // Every opening fetches the conversation endpoint: the audit trail and the causes (and
    // the anger curve so far, the store and the shopper's context when not known yet).
    this.loadDetail(id);
    this.markRead();
    this.refreshColleagues();
    this.schedule();
  }

  /**
   * Asks the server for the colleagues to transfer to (`agents.list`, available ones
   * first): on opening a conversation and on focusing the transfer list, at most once
   * a second. The server no longer pushes every colleague to every agent.
   */
  refreshColleagues(): void {
    const now = Date.now();
    if (now - this.colleaguesAskedAt < 1000) return;
    if (this.client?.sendFrame({ type: 'agents.list', limit: 100 })) this.colleaguesAskedAt = now;
  }

  /** GET /api/v1/conversations/{id} into the model; an answer overtaken by a newer request is dropped. */
  private loadDetail(id: string): void {
    const session = this._session;
    if (!session) return;
    const my = (this.detailSeq.get(id) ?? 0) + 1;
    this.detailSeq.set(id, my);
    void fetchConversation(session.token, id).then((d) => {
      if (this._session !== session || this.detailSeq.get(id) !== my) return;
      const c = this.model.conv(id);
      if (d) applyDetail(this.model, c, d);
      else if (!c.audit) c.auditFailed = true;
      this.schedule();
    });
  }

  act(frame: { type: string; [k: string]: unknown }, done?: string): boolean {
    if (!this.client?.sendFrame(frame)) {
      this.toast(t().notConnected, true);
      return false;
    }
    if (done) this.toast(done);
    return true;
  }

  /** A staff member's name from what this console knows (snapshot, conversations, itself). */
  staffName(id: string): string {
    if (id === this._session?.user_id) return this._session.name;
    const a = this.model.colleagues?.find((x) => x.id === id) ?? this.model.snapshot?.agents?.find((x) => x.id === id);
    if (a?.name) return a.name;
    for (const c of this.model.convs.values()) if (c.agentId === id && c.agentName) return c.agentName;
    return id;
  }

  shopperName(c: ConvVM): string {
    return c.shopper?.name || t().shopperFallback((c.shopper?.id ?? c.id).slice(-4));
  }

  storeName(id: string | undefined): string | undefined {
    if (!id) return undefined;
    return this.stores.find((s) => s.id === id)?.name || id;
  }

  canAct(c: ConvVM): boolean {
    if (c.state === 'closed' || c.gone) return false;
    if (c.agentId === this.session.user_id) return true;
    return this.isSupervisor && (c.joined === 'whisper' || c.joined === 'barge');
  }

  myVisibility(convId: string): 'all' | 'staff' {
    const c = this.model.convs.get(convId);
    return this.isSupervisor && c?.joined === 'whisper' && c.agentId !== this._session?.user_id ? 'staff' : 'all';
  }

  schedule(): void {
    if (this.renderQueued) return;
    this.renderQueued = true;
    setTimeout(() => {
      this.renderQueued = false;
      this.render();
    }, 0);
  }

  private toastTimer: ReturnType<typeof setTimeout> | null = null;
  toast(text: string, error = false): void {
    const el = this.views?.toast;
    if (!el) return;
    el.textContent = text;
    el.className = 'toast' + (error ? ' error' : '');
    el.hidden = false;
    if (this.toastTimer) clearTimeout(this.toastTimer);
    this.toastTimer = setTimeout(() => (el.hidden = true), 5000);
  }

  // ---- language -------------------------------------------------------------------

  private applyLang(lang: Lang): void {
    setLang(lang);
    if (typeof document !== 'undefined') document.documentElement.lang = lang;
  }

  /** The header/login menu: persist, and rebuild the screen in the new language (the connection stays). */
  setLanguage(lang: Lang): void {
    this.applyLang(lang);
    this.prefs.setItem(LANG_KEY, lang);
    if (this._session && this.views) {
      const draft = this.views.chat.composer.input.value;
      this.buildViews();
      this.views.chat.composer.input.value = draft;
      this.render();
      (this.views.header.el.querySelector('[data-testid="lang"]') as HTMLElement | null)?.focus();
    } else if (!this._session) {
      const typed = (this.root.querySelector('[data-testid="username"]') as HTMLInputElement | null)?.value;
      this.showLogin(this.loginMessage, typed);
      (this.root.querySelector('[data-testid="login-lang"]') as HTMLElement | null)?.focus();
    }
  }

  // ---- login ----------------------------------------------------------------------

  private showLogin(message?: string, username?: string): void {
    this.loginMessage = message;
    this.views = null;
    renderLogin(this.root, {
      message,
      username,
      onLang: (l) => this.setLanguage(l),
      onLoggedIn: (s) => {
        this._session = s;
        this.store.setItem(SESSION_KEY, JSON.stringify(s));
        this.loginMessage = undefined;
        this.showMain();
      },
    });
  }

  private logout(message?: string): void {
    this.client?.stop();
    this.client = null;
    if (this.ticker) clearInterval(this.ticker);
    this.ticker = null;
    this.stopTitleFlash();
    this.auditLater.cancelAll();
    this.views?.curve.destroy();
    this.views?.reports?.destroy();
    this.reportState = null;
    this.store.removeItem(SESSION_KEY);
    this._session = null;
    this.selected = null;
    this.showLogin(message);
  }

  // ---- main view ------------------------------------------------------------------

  private showMain(): void {
    const s = this.session;
    this.model = new ConsoleModel(s.user_id, s.role);
    this.selected = null;
    this.tab = 'conversations';
    this.stores = [];
    this.seenEscalations.clear();
    this.detailSeq.clear();
    this.reportState = this.isSupervisor ? new ReportState(() => s.token, () => this.schedule()) : null;
    this.canned = new CannedCache((store, lang) => fetchCanned(s.token, store, lang), () => this.schedule());
    this.followups = new FollowupsStore(() => fetchFollowups(s.token), () => this.schedule());
    this.buildViews();
    this.connect();
    if (this.ticker) clearInterval(this.ticker);
    this.ticker = setInterval(() => {
      this.render(false);
      // Live chat.message frames reach a supervisor only in conversations it joined or
      // holds; for one it merely watches, refresh the transcript from history now and then.
      if (++this.ticks % 5 === 0) this.refreshWatched();
    }, 1000);
    this.render();
  }

  /** (Re)build every view in the current language; the model and the connection stay. */
  private buildViews(): void {
    const s = this.session;
    this.views?.curve.destroy();
    this.views?.reports?.destroy();
    const header = new HeaderView(s.name, this.isSupervisor, {
      onPresence: (status) => {
        if (!this.client?.sendFrame({ type: 'presence.set', status })) this.toast(t().presenceNotChanged, true);
      },
      onLang: (l) => this.setLanguage(l),
      onMute: (muted) => {
        this.notifier.setMuted(muted);
        if (!muted) this.notifier.sound('message');
        this.schedule();
      },
      onEnableNotifications: () => {
        this.notifier.unlockAudio();
        void Notifier.requestPermission().then((p) => {
          if (p === 'denied') this.toast(t().notificationsBlocked, true);
          else if (p === 'granted') this.toast(t().notificationsOn);
          this.schedule();
        });
      },
      onTab: (tab) => this.setTab(tab),
      onLogout: () => this.logout(),
    });
    const list = new ListView(this);
    const chat = new ChatView(this, {
      send: (text) => this.sendReply(text),
      typing: () => this.onTypingInput(),
      canned: (c) => this.cannedFor(c),
      placeholders: (c) => this.placeholders(c),
    });
    chat.el.id = 'panel-conversations';
    chat.el.setAttribute('role', 'tabpanel');
    chat.el.setAttribute('aria-labelledby', 'tab-conversations');
    const curve = new CurveView({
      answers: (c) => {
        const e = this.cannedFor(c);
        return e?.status === 'ready' ? e.list : null;
      },
      insert: (a: CannedAnswer) => this.views?.chat.composer.insertCanned(a),
      canWrite: (c) => this.canAct(c),
    });
    const audit = new AuditView(this);
    const insight = h('aside', { class: 'insight' }, curve.el, audit.el);
    let inbox: InboxView | null = null;
    let queue: QueueView | null = null;
    if (this.isSupervisor) {
      inbox = new InboxView(this);
      queue = new QueueView(this);
      insight.prepend(inbox.el, queue.el);
    }
    const followups = new FollowupsView(this, this.followups, this.stores);
    const reports = this.reportState ? new ReportsView(this.reportState, this.stores) : null;
    const toast = h('div', { class: 'toast', role: 'status', hidden: true });
    this.root.replaceChildren(h('div', { class: 'app' + (this.isSupervisor ? ' supervisor' : '') }, header.el, list.el, chat.el, insight, followups.el, reports?.el ?? null), toast);
    this.views = { header, list, chat, curve, audit, inbox, queue, followups, reports, side: list.el, insight, toast };
  }

  private setTab(tab: Tab): void {
    if (tab === 'reports' && !this.reportState) tab = 'conversations';
    this.tab = tab;
    if (tab === 'followups') void this.followups.refresh();
    else if (tab === 'reports') {
      // The first visit loads the default window (the last 7 days, every store).
      const r = this.reportState!;
      if (!r.data && !r.loading && !r.error) void r.refresh();
    } else this.markRead();
    this.render();
  }

  private windowListening = false;
  /** Window-level listeners, added once (a logout and a new login reuse them). */
  private listenWindowOnce(): void {
    if (this.windowListening || typeof window === 'undefined') return;
    this.windowListening = true;
    window.addEventListener('focus', () => this._session && this.views && this.markRead());
    window.addEventListener('resize', () => this._session && this.schedule());
    window.addEventListener('online', () => {
      if (this.client?.state === 'disconnected') this.client.reconnectNow();
    });
    // Audio may only start after a gesture: any click or key unlocks it.
    const unlock = () => this.notifier.unlockAudio();
    window.addEventListener('pointerdown', unlock, { passive: true });
    window.addEventListener('keydown', unlock);
    document.addEventListener('visibilitychange', () => {
      if (document.visibilityState === 'visible' && this._session && this.views) {
        this.stopTitleFlash();
        this.markRead();
      }
    });
  }

  private connect(): void {
    const s = this.session;
    const c = new CalmaClient({
      url: this.opts.wsUrl ?? wsUrlFor(location.origin),
      hello: () => ({ type: 'hello', token: s.token }),
      // (only when given: an explicit undefined would replace the browser's WebSocket)
      ...(this.opts.createSocket ? { createSocket: this.opts.createSocket } : {}),
      storage: this.store,
      outboxKey: `calma:console:outbox:${s.user_id}`,
      // Agents follow all their conversations; supervisors only those they open.
      syncWelcomeConversations: s.role === 'agent',
    });
    this.client = c;
    c.on('state', (st) => {
      this.connState = st;
      this.schedule();
    });
    c.on('welcome', (w) => this.onWelcome(w));
    c.on('message', (m) => this.onMessage(m, true));
    c.on('history', (hist) => {
      for (const m of hist.messages) this.onMessage(m, false);
      this.schedule();
    });
    c.on('ack', ({ message }) => {
      const conv = this.model.convs.get(message.conversation_id);
      if (conv) conv.alert = undefined;
      this.model.addMessage({ ...message, from: { id: s.user_id, role: s.role, name: s.name }, visibility: this.myVisibility(message.conversation_id) });
      this.schedule();
    });
    c.on('sendFailed', ({ entry, code, message }) => {
      const conv = entry.conversation_id ? this.model.convs.get(entry.conversation_id) : undefined;
      const p = conv?.pending.get(entry.client_msg_id);
      if (p) p.failed = code;
      this.toast(t().messageNotSent(message || code), true);
      this.schedule();
    });
    c.on('sendRetry', ({ code }) => this.toast(t().serverBusy(code), true));
    c.on('serverError', (e) => this.toast(`${e.ref ? e.ref + ': ' : ''}${e.message || e.code}`, true));
    c.on('authFailed', () => this.logout(t().sessionExpired));
    c.on('event', (ev) => this.onEvent(ev as ConsoleServerMessage));
    c.connect();
  }

  // ---- protocol events ---------------------------------------------------------

  private onWelcome(w: Welcome): void {
    const listed = new Set<string>();
    if (Array.isArray(w.stores)) {
      const hadStores = this.stores.length;
      this.stores = w.stores.filter((s) => s && typeof s.id === 'string');
      // The follow-up view's and the reports' store filters depend on the stores: rebuild them once known.
      if (!hadStores && (this.stores.length > 1 || this.isSupervisor) && this.stores.length && this.views) this.buildViews();
    }
    for (const s of w.conversations ?? []) {
      this.model.applySummary(s);
      listed.add(s.conversation_id);
    }
    if (!this.isSupervisor) {
      for (const c of this.model.convs.values()) {
        if (!listed.has(c.id) && c.state !== 'closed' && !c.gone) c.gone = { kind: 'unassigned' };
      }
    }
    for (const e of w.escalations ?? []) {
      this.model.raise(e);
      this.seenEscalations.add(e.escalation_id);
    }
    const p = (w as unknown as { presence?: { status: PresenceStatus; capacity?: number } }).presence;
    if (p) {
      this.presence = p.status;
      this.capacity = p.capacity ?? null;
    }
    this.canned.retryFailed();
    void this.followups.refresh();
    if (this.selected) this.client?.follow(this.selected);
    if (!this.selected) {
      const first = this.model.ordered(Date.now())[0];
      if (first) this.select(first.id);
    }
    this.schedule();
  }

  private onMessage(m: ChatMessage, live: boolean): void {
    const fromShopper = this.model.addMessage(m);
    const c = this.model.conv(m.conversation_id);
    if (c.state === 'queued' && m.from?.role === 'agent') c.state = 'assigned';
    if (fromShopper && isMessageNotice(m, live, c, this.viewState())) this.notice('message', c, m.text);
    if (this.selected === m.conversation_id) this.markRead();
    this.schedule();
  }

  private onEvent(ev: ConsoleServerMessage): void {
    const auditOf = auditConversation(ev as { type?: unknown; conversation_id?: unknown });
    if (auditOf && auditOf === this.selected) this.auditLater.trigger(auditOf);
    const effects = applyFrame(this.model, ev, {
      me: this.session.user_id,
      supervisor: this.isSupervisor,
      selected: this.selected,
      seenEscalations: this.seenEscalations,
      shopperName: (c) => this.shopperName(c),
    });
    if (!effects) return;
    for (const e of effects) {
      switch (e.kind) {
        case 'select':
          this.select(e.convId);
          break;
        case 'notice':
          this.notice(e.notice, this.model.conv(e.convId), e.detail, e.severity);
          break;
        case 'toast':
          this.toast(e.text, e.error);
          break;
        case 'flash':
          this.flashTitle(e.label);
          break;
        case 'presence':
          this.presence = e.status;
          if (e.capacity !== undefined) this.capacity = e.capacity;
          break;
        case 'followups':
          if (e.doneId) this.followups.markDone(e.doneId);
          if (e.doneByMe) this.toast(t().followupDone);
          void this.followups.refresh();
          break;
      }
    }
    this.schedule();
  }

  // ---- notices ---------------------------------------------------------------------

  /** Is the conversation view what the user is looking at right now? */
  private visible(): boolean {
    return document.visibilityState !== 'hidden' && this.tab === 'conversations';
  }

  private viewState() {
    return { me: this.session.user_id, selected: this.selected, visible: this.visible() };
  }

  /** Sound, a system notification while the tab is hidden, and the title. */
  private notice(kind: NoticeKind, c: ConvVM, detail = '', severity?: Severity): void {
    const s = t();
    const name = this.shopperName(c);
    this.notifier.sound(kind, severity === 'critical' ? 3 : severity === 'high' ? 2 : 1);
    const title = kind === 'assigned' ? s.noticeAssigned(name) : kind === 'message' ? s.noticeMessage(name) : s.noticeEscalation(s.severity[severity ?? 'warning'] ?? String(severity), name);
    this.notifier.system(title, detail.slice(0, 160), `calma-${kind}-${c.id}`, () => {
      this.setTab('conversations');
      this.select(c.id);
    });
    const flash = kind === 'assigned' ? s.flashNewConversation : kind === 'message' ? s.flashNewMessage : s.flashEscalation;
    // A new message in view needs no flashing title; an escalation or a new conversation always does.
    if (kind !== 'message' || !this.visible()) this.flashTitle(flash);
  }

  private flashTitle(label: string): void {
    this.stopTitleFlash();
    this.flashLabel = label;
    this.titleFlash = setInterval(() => {
      this.flashOn = !this.flashOn;
      this.updateTitle();
    }, 1000);
    this.titleFlashEnd = setTimeout(() => this.stopTitleFlash(), document.visibilityState !== 'hidden' ? 10000 : 600000);
  }

  private stopTitleFlash(): void {
    if (this.titleFlash) clearInterval(this.titleFlash);
    if (this.titleFlashEnd) clearTimeout(this.titleFlashEnd);
    this.titleFlash = null;
    this.titleFlashEnd = null;
    this.flashLabel = null;
    this.flashOn = false;
    if (this._session && this.model) this.updateTitle();
  }

  /** "(3) Calma console", alternating with "<notice> · Calma console" while a notice flashes. */
  private updateTitle(): void {
    document.title = this.flashLabel && this.flashOn ? `${this.flashLabel} · ${t().appTitle}` : this.baseTitle();
  }

  private baseTitle(): string {
    return titleText(unreadTotal(this.model), t().appTitle);
  }

  // ---- actions -------------------------------------------------------------------

  private refreshWatched(): void {
    if (!this.isSupervisor || !this.selected || !this.visible()) return;
    const c = this.model.convs.get(this.selected);
    if (!c || c.state === 'closed' || c.joined || c.agentId === this._session?.user_id) return;
    this.client?.requestHistory(c.id);
  }

  private markRead(): void {
    if (!this.selected || !this.client || !this.visible()) return;
    const c = this.model.convs.get(this.selected);
    if (!c) return;
    const last = this.model.lastSeq(c);
    // Receipts go to the shopper only from whoever is talking to them (not from a whisperer).
    if (last > c.readSeq && this.canAct(c) && this.myVisibility(c.id) === 'all') {
      if (this.client.sendFrame({ type: 'read', conversation_id: c.id, seq: last })) c.readSeq = last;
    } else if (last > c.readSeq && this.isSupervisor) {
      c.readSeq = last; // a supervisor watching does not send receipts to the shopper
    }
    this.schedule();
  }

  private sendReply(text: string): void {
    const c = this.selected ? this.model.convs.get(this.selected) : undefined;
    if (!c || !text || !this.client || !this.canAct(c)) return;
    if (new TextEncoder().encode(text).length > 4000) return this.toast(t().tooLong, true);
    const entry = this.client.send(text, c.id);
    c.pending.set(entry.client_msg_id, { client_msg_id: entry.client_msg_id, text, ts: entry.created_ts });
    if (this.views) this.views.chat.composer.input.value = '';
    this.stopTyping();
    this.views?.chat.scrollToEnd();
    this.schedule();
  }

  private onTypingInput(): void {
    const c = this.selected ? this.model.convs.get(this.selected) : undefined;
    if (!c || !this.canAct(c) || this.myVisibility(c.id) === 'staff') return;
    const now = Date.now();
    if (now - this.typingSentAt > 3000) {
      this.typingSentAt = now;
      this.client?.sendFrame({ type: 'typing', conversation_id: c.id, state: true });
    }
    if (this.typingStop) clearTimeout(this.typingStop);
    this.typingStop = setTimeout(() => this.stopTyping(), 4000);
  }

  private stopTyping(): void {
    if (this.typingStop) clearTimeout(this.typingStop);
    this.typingStop = null;
    if (this.typingSentAt && this.selected) this.client?.sendFrame({ type: 'typing', conversation_id: this.selected, state: false });
    this.typingSentAt = 0;
  }

  // ---- prepared answers ---------------------------------------------------------------

  /** The conversation's store: its own, else the user's only store. */
  private storeOf(c: ConvVM): StoreInfo | undefined {
    if (c.store) return this.stores.find((s) => s.id === c.store) ?? { id: c.store, name: c.store };
    return this.stores.length === 1 ? this.stores[0] : undefined;
  }

  private cannedFor(c: ConvVM): CannedEntry | null {
    const store = this.storeOf(c);
    if (!store) return null;
    const langs = cannedLangs(c.shopper?.language, store.languages ?? []);
    if (!langs.length) langs.push(getLang());
    return this.canned.get(store.id, langs);
  }

  private placeholders(c: ConvVM): PlaceholderValues {
    return { name: c.shopper?.name, agent: this.session.name, order: c.shopper?.context?.order_id };
  }

  // ---- rendering --------------------------------------------------------------

  /** full=false: the once-a-second refresh of times only (keeps the transcript's text selection). */
  private render(full = true): void {
    const v = this.views;
    if (!this._session || !v) return;
    const now = Date.now();
    const onConvs = this.tab === 'conversations';
    v.header.render({
      conn: this.connState,
      presence: this.presence,
      capacity: this.capacity,
      muted: this.notifier.muted,
      permission: Notifier.permission(),
      tab: this.tab,
      followups: this.followups.visible(null).length,
    });
    v.side.hidden = v.chat.el.hidden = v.insight.hidden = !onConvs;
    v.followups.el.hidden = this.tab !== 'followups';
    if (v.reports) v.reports.el.hidden = this.tab !== 'reports';
    if (onConvs) {
      v.list.render(now);
      const c = this.selected ? this.model.convs.get(this.selected) : undefined;
      if (full) {
        v.chat.render(now);
        v.curve.render(c);
        v.audit.render(c);
        // Start loading the answers as soon as the conversation is on screen.
        if (c && this.canAct(c)) this.cannedFor(c);
      } else {
        v.chat.renderTyping(c, now);
      }
      v.inbox?.render(now);
      v.queue?.render();
    } else if (full && this.tab === 'followups') {
      v.followups.render();
    } else if (full && this.tab === 'reports') {
      v.reports?.render();
    }
    this.updateTitle();
  }
}
