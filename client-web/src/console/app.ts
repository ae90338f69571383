/**
 * Agent and supervisor console. The role from login decides what is shown:
 * agents see their conversations; supervisors additionally see queues, agents and
 * escalations, and can join (monitor / whisper / barge) or take over any conversation.
 * All text is set through textContent (see shared/dom.ts).
 */
import { CalmaClient, type ConnState } from '../protocol/client';
import { safeStorage } from '../protocol/storage';
import type { ChatMessage, JoinMode, PresenceStatus, ServerMessage, Welcome } from '../protocol/types';
import { partyId } from '../protocol/types';
import { wsUrlFor } from '../protocol/index';
import { ICONS, clear, fmtTime, h, icon, initials } from '../shared/dom';
import { LoginError, fetchConversation, login, type Session } from './api';
import { AngerChart } from './chart';
import { COACHING, ConsoleModel, fmtDuration, levelColor, type ConvVM, type EscalationVM } from './model';

const SESSION_KEY = 'calma:console:session';

export class ConsoleApp {
  private store = safeStorage('session');
  private session: Session | null = null;
  private client: CalmaClient | null = null;
  private model!: ConsoleModel;
  private selected: string | null = null;
  private presence: PresenceStatus | null = null;
  private capacity: number | null = null;
  private connState: ConnState = 'disconnected';
  private renderQueued = false;
  private ticker: ReturnType<typeof setInterval> | null = null;
  private fetchedAnger = new Set<string>();
  private typingSentAt = 0;
  private typingStop: ReturnType<typeof setTimeout> | null = null;
  private seenEscalations = new Set<string>();
  private titleFlash: ReturnType<typeof setInterval> | null = null;
  private stickToBottom = true;
  private ticks = 0;
  private lastRenderedConv: string | null = null;

  // persistent elements of the main view
  private els!: {
    alertBar: HTMLElement;
    conn: HTMLElement;
    presence: HTMLSelectElement;
    list: HTMLElement;
    listCount: HTMLElement;
    pane: HTMLElement;
    paneHead: HTMLElement;
    transcript: HTMLElement;
    typing: HTMLElement;
    composerNote: HTMLElement;
    input: HTMLTextAreaElement;
    sendBtn: HTMLButtonElement;
    composer: HTMLElement;
    anger: HTMLElement;
    angerStats: HTMLElement;
    coaching: HTMLElement;
    escalations: HTMLElement | null;
    escCount: HTMLElement | null;
    queues: HTMLElement | null;
    toast: HTMLElement;
  };
  private chart = new AngerChart(160, 'No anger data yet for this conversation');

  constructor(private root: HTMLElement) {}

  start(): void {
    const raw = this.store.getItem(SESSION_KEY);
    if (raw) {
      try {
        this.session = JSON.parse(raw) as Session;
      } catch {
        this.session = null;
      }
    }
    if (this.session) this.showMain();
    else this.showLogin();
  }

  // ---- login --------------------------------------------------------------------

  private showLogin(message?: string): void {
    document.title = 'Sign in · Calma Console';
    clear(this.root);
    const user = h('input', { id: 'username', name: 'username', autocomplete: 'username', required: true, 'data-testid': 'username' });
    const pass = h('input', { id: 'password', name: 'password', type: 'password', autocomplete: 'current-password', required: true, 'data-testid': 'password' });
    const err = h('div', { class: 'login-error', role: 'alert', 'data-testid': 'login-error', hidden: !message }, message ?? '');
    const btn = h('button', { class: 'btn primary wide', type: 'submit', 'data-testid': 'login' }, 'Sign in');
    const form = h(
      'form',
      { class: 'login-card', 'aria-labelledby': 'login-title' },
      h('div', { class: 'login-brand' }, h('span', { class: 'logo', 'aria-hidden': 'true' }), h('span', {}, 'Calma')),
      h('h1', { id: 'login-title' }, 'Sign in to the console'),
      h('p', { class: 'muted' }, 'For agents and supervisors.'),
      h('label', { for: 'username' }, 'Username'),
      user,
      h('label', { for: 'password' }, 'Password'),
      pass,
      err,
      btn,
      h('p', { class: 'demo-hint' }, 'Demo accounts: agent / agent · agent2 / agent2 · supervisor / supervisor'),
    );
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      err.hidden = true;
      btn.disabled = true;
      btn.textContent = 'Signing in…';
      try {
        const s = await login(user.value.trim(), pass.value);
        this.session = s;
        this.store.setItem(SESSION_KEY, JSON.stringify(s));
        this.showMain();
      } catch (ex) {
        err.textContent = ex instanceof LoginError ? ex.message : 'Sign-in failed.';
        err.hidden = false;
        btn.disabled = false;
        btn.textContent = 'Sign in';
        pass.select();
      }
    });
    this.root.append(h('div', { class: 'login-wrap' }, form));
    user.focus();
  }

  private logout(message?: string): void {
    this.client?.stop();
    this.client = null;
    if (this.ticker) clearInterval(this.ticker);
    this.store.removeItem(SESSION_KEY);
    this.session = null;
    this.selected = null;
    this.showLogin(message);
  }

  // ---- main view ----------------------------------------------------------------

  private get isSupervisor(): boolean {
    return this.session?.role === 'supervisor';
  }

  private showMain(): void {
    const s = this.session!;
    document.title = 'Calma Console';
    this.model = new ConsoleModel(s.user_id, s.role);
    clear(this.root);

    const conn = h('span', { class: 'conn', 'data-testid': 'conn' }, 'Connecting…');
    const presence = h(
      'select',
      { class: 'presence', 'aria-label': 'Presence', 'data-testid': 'presence' },
      h('option', { value: 'online' }, '● Online'),
      h('option', { value: 'away' }, '◐ Away'),
      h('option', { value: 'offline' }, '○ Offline'),
    );
    presence.value = 'online';
    presence.addEventListener('change', () => {
      const status = presence.value as PresenceStatus;
      if (!this.client?.sendFrame({ type: 'presence.set', status })) this.toast('Offline: presence not changed', true);
    });
    const logoutBtn = h('button', { class: 'btn ghost', type: 'button', 'data-testid': 'logout' }, 'Sign out');
    logoutBtn.addEventListener('click', () => this.logout());
    const top = h(
      'header',
      { class: 'top' },
      h('div', { class: 'brand' }, h('span', { class: 'logo', 'aria-hidden': 'true' }), 'Calma', h('span', { class: 'brand-sub' }, this.isSupervisor ? 'Supervisor' : 'Agent')),
      conn,
      h('div', { class: 'spacer' }),
      h('label', { class: 'presence-label' }, h('span', { class: 'sr-only' }, 'Presence'), presence),
      h('div', { class: 'me', 'data-testid': 'me' }, h('span', { class: 'avatar sm' }, initials(s.name)), h('span', {}, s.name)),
      logoutBtn,
    );

    const listCount = h('span', { class: 'count' });
    const list = h('ul', { class: 'conv-list', 'aria-label': 'Conversations', 'data-testid': 'conv-list' });
    const side = h('aside', { class: 'side' }, h('div', { class: 'side-head' }, h('h2', {}, this.isSupervisor ? 'All conversations' : 'My conversations'), listCount), list);

    const paneHead = h('div', { class: 'pane-head' });
    const transcript = h('div', { class: 'transcript', role: 'log', 'aria-live': 'polite', 'aria-label': 'Transcript', 'data-testid': 'transcript' });
    transcript.addEventListener('scroll', () => {
      this.stickToBottom = transcript.scrollHeight - transcript.scrollTop - transcript.clientHeight < 40;
    });
    const typing = h('div', { class: 'typing-line', 'data-testid': 'shopper-typing' });
    const input = h('textarea', { rows: 2, placeholder: 'Write a reply… (Enter to send, Shift+Enter for a new line)', 'aria-label': 'Reply', 'data-testid': 'reply' });
    const sendBtn = h('button', { class: 'btn primary', type: 'submit', 'data-testid': 'send' }, 'Send');
    const composerNote = h('div', { class: 'composer-note' });
    const form = h('form', { class: 'composer' }, composerNote, h('div', { class: 'composer-row' }, input, sendBtn));
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      this.sendReply();
    });
    input.addEventListener('keydown', (e) => {
      if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
        e.preventDefault();
        this.sendReply();
      }
    });
    input.addEventListener('input', () => this.onTypingInput());
    const alertBar = h('div', { class: 'alert-bar', role: 'alert', hidden: true, 'data-testid': 'agent-alert' });
    const pane = h('main', { class: 'pane', 'data-testid': 'pane' }, paneHead, alertBar, transcript, typing, form);

    const angerStats = h('div', { class: 'anger-stats', 'data-testid': 'anger-stats' });
    const coaching = h('div', { class: 'coaching', 'data-testid': 'coaching' });
    const anger = h('section', { class: 'card', 'aria-label': 'Anger curve', 'data-testid': 'anger-card' }, h('h3', {}, 'Anger curve'), angerStats, this.chart.el, coaching);

    let escalations: HTMLElement | null = null;
    let escCount: HTMLElement | null = null;
    let queues: HTMLElement | null = null;
    const insight = h('aside', { class: 'insight' }, anger);
    if (this.isSupervisor) {
      escCount = h('span', { class: 'pill', 'data-testid': 'esc-count' }, '0');
      escalations = h('div', { class: 'esc-list', 'data-testid': 'escalations' });
      queues = h('div', { class: 'queues', 'data-testid': 'queues' }, h('p', { class: 'muted' }, 'Waiting for the first queue snapshot…'));
      insight.prepend(
        h('section', { class: 'card', 'aria-label': 'Escalations' }, h('h3', {}, 'Escalations ', escCount), escalations),
        h('section', { class: 'card', 'aria-label': 'Queues and agents' }, h('h3', {}, 'Queues & agents'), queues),
      );
    }
    const toast = h('div', { class: 'toast', role: 'status', hidden: true });
    this.root.append(h('div', { class: 'app' + (this.isSupervisor ? ' supervisor' : '') }, top, side, pane, insight), toast);
    this.els = { alertBar, conn, presence, list, listCount, pane, paneHead, transcript, typing, composerNote, input, sendBtn, composer: form, anger, angerStats, coaching, escalations, escCount, queues, toast };

    this.connect();
    this.listenWindowOnce();
    this.ticker = setInterval(() => {
      this.render(false);
      // Live chat.message frames reach a supervisor only in conversations it joined or
      // holds; for one it merely watches, refresh the transcript from history now and then.
      if (++this.ticks % 5 === 0) this.refreshWatched();
    }, 1000);
    this.render();
  }

  private windowListening = false;
  /** Window-level listeners, added once (a logout and a new login reuse them). */
  private listenWindowOnce(): void {
    if (this.windowListening) return;
    this.windowListening = true;
    window.addEventListener('focus', () => this.session && this.markRead());
    window.addEventListener('resize', () => this.session && this.schedule());
    window.addEventListener('online', () => {
      if (this.client?.state === 'disconnected') this.client.reconnectNow();
    });
    document.addEventListener('visibilitychange', () => {
      if (document.visibilityState === 'visible' && this.session) {
        this.stopTitleFlash();
        this.markRead();
      }
    });
  }

  private connect(): void {
    const s = this.session!;
    const c = new CalmaClient({
      url: wsUrlFor(location.origin),
      hello: () => ({ type: 'hello', token: s.token }),
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
      this.toast(`Message not sent: ${message || code}`, true);
      this.schedule();
    });
    c.on('sendRetry', ({ code }) => this.toast(`Server busy (${code}); retrying…`, true));
    c.on('serverError', (e) => this.toast(`${e.ref ? e.ref + ': ' : ''}${e.message || e.code}`, true));
    c.on('authFailed', () => this.logout('Your session has expired. Please sign in again.'));
    c.on('event', (ev) => this.onEvent(ev));
    c.connect();
  }

  private myVisibility(convId: string): 'all' | 'staff' {
    const c = this.model.convs.get(convId);
    return this.isSupervisor && c?.joined === 'whisper' && c.agentId !== this.session?.user_id ? 'staff' : 'all';
  }

  // ---- protocol events ---------------------------------------------------------

  private onWelcome(w: Welcome): void {
    const listed = new Set<string>();
    for (const s of w.conversations ?? []) {
      this.model.applySummary(s);
      listed.add(s.conversation_id);
    }
    if (!this.isSupervisor) {
      for (const c of this.model.convs.values()) {
        if (!listed.has(c.id) && c.state !== 'closed' && !c.gone) c.gone = 'No longer assigned to you';
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
    if (live && fromShopper) {
      if (this.selected === m.conversation_id && this.visible()) this.markRead();
      else this.notifyTitle();
    }
    if (this.selected === m.conversation_id) this.markRead();
    this.schedule();
  }

  private onEvent(ev: ServerMessage): void {
    const me = this.session!.user_id;
    switch (ev.type) {
      case 'conversation.assigned': {
        const c = this.model.conv(ev.conversation_id);
        c.state = 'assigned';
        c.agentId = ev.agent?.id ?? null;
        c.agentName = ev.agent?.name;
        if (ev.shopper) c.shopper = ev.shopper;
        if (c.agentId === me) {
          c.gone = undefined;
          if (!this.selected || !this.model.convs.get(this.selected) || this.model.convs.get(this.selected)!.gone) this.select(c.id);
          else this.notifyTitle();
        } else if (!this.isSupervisor && !c.joined) {
          c.gone = `Transferred to ${ev.agent?.name || ev.agent?.id}`;
        }
        break;
      }
      case 'conversation.queued': {
        const c = this.model.conv(ev.conversation_id);
        if (!this.isSupervisor && c.agentId === me) c.gone = 'Sent back to the queue';
        c.state = 'queued';
        c.agentId = null;
        break;
      }
      case 'conversation.closed': {
        const c = this.model.conv(ev.conversation_id);
        c.state = 'closed';
        c.typing = null;
        c.closedReason = [ev.reason, partyId(ev.by) ? `by ${partyId(ev.by) === me ? 'you' : partyId(ev.by)}` : ''].filter(Boolean).join(' · ');
        break;
      }
      case 'conversation.joined' as string: {
        const j = ev as unknown as { conversation_id: string; mode: JoinMode; supervisor?: { id: string; name?: string } };
        const c = this.model.conv(j.conversation_id);
        if (j.supervisor?.id === me) c.joined = j.mode;
        else this.toast(`${j.supervisor?.name || 'A supervisor'} joined (${j.mode})`);
        break;
      }
      case 'typing': {
        if (ev.from?.id === me) return;
        const c = this.model.conv(ev.conversation_id);
        c.typing = ev.state ? { name: ev.from?.name || (ev.from?.role === 'shopper' ? 'Shopper' : 'Someone'), until: Date.now() + 8000 } : null;
        break;
      }
      case 'read': {
        if (ev.from?.id === me) return;
        const c = this.model.conv(ev.conversation_id);
        if (ev.from?.role === 'shopper' || !ev.from?.role) c.peerReadSeq = Math.max(c.peerReadSeq, ev.seq);
        break;
      }
      case 'anger.update': {
        this.model.addAnger(ev);
        // A "heading for 80" warning is stale once the line is crossed: the escalation takes over.
        const c = this.model.conv(ev.conversation_id);
        if (c.alert?.kind === 'warning' && ev.level >= 80) c.alert = undefined;
        break;
      }
      case 'escalation.raised': {
        const seen = this.seenEscalations.has(ev.escalation_id);
        this.seenEscalations.add(ev.escalation_id);
        const change = this.model.raise(ev);
        // Alert on a new escalation, and again when it gets louder (severity up, re-notified).
        if (!seen || change.louder) this.alertEscalation(ev.severity);
        break;
      }
      case 'escalation.acked':
      case 'escalation.resolved':
        this.model.escalationEvent(ev.type, ev.escalation_id, ev.conversation_id, ev.by, ev.note, ev.by_name);
        break;
      case 'agent.alert': {
        const c = this.model.conv(ev.conversation_id);
        c.alert = { kind: ev.kind, reasons: ev.reasons ?? [], ts: ev.ts ?? Date.now() };
        const who = this.shopperName(c);
        const why = (ev.reasons ?? []).join('; ');
        this.toast(ev.kind === 'nudge' ? `${who} is waiting for your reply${why ? ': ' + why : ''}` : `${who}: ${why || 'anger is rising'}`, ev.kind !== 'nudge');
        this.notifyTitle(ev.kind === 'nudge' ? 'Reply waiting' : '⚠ Anger rising');
        break;
      }
      case 'queue.snapshot':
        this.model.snapshot = ev;
        this.model.snapshotTs = Date.now();
        for (const q of ev.queues ?? []) {
          for (const w of q.waiting ?? []) {
            const c = this.model.conv(w.conversation_id);
            if (c.state !== 'closed') c.state = 'queued';
            c.queue = q.name;
            if (!c.waitingSince && c.messages.size === 0) c.createdTs = Date.now() - w.wait_s * 1000;
          }
        }
        break;
      case 'presence':
        this.presence = ev.status;
        if (typeof ev.capacity === 'number') this.capacity = ev.capacity;
        break;
      default:
        return;
    }
    this.schedule();
  }

  // ---- actions -------------------------------------------------------------------

  private select(id: string): void {
    this.selected = id;
    this.stickToBottom = true;
    this.client?.follow(id);
    const c = this.model.conv(id);
    if (!c.anger && !this.fetchedAnger.has(id) && this.session) {
      this.fetchedAnger.add(id);
      void fetchConversation(this.session.token, id).then((d) => {
        const tl = d?.anger_timeline ?? d?.timeline ?? (Array.isArray(d?.anger) ? d?.anger : undefined);
        if (tl && tl.length) {
          this.model.setCurve(c, tl as never);
          this.schedule();
        }
      });
    }
    this.markRead();
    this.schedule();
  }

  private refreshWatched(): void {
    if (!this.isSupervisor || !this.selected || !this.visible()) return;
    const c = this.model.convs.get(this.selected);
    if (!c || c.state === 'closed' || c.joined || c.agentId === this.session?.user_id) return;
    this.client?.requestHistory(c.id);
  }

  private visible(): boolean {
    return document.visibilityState !== 'hidden';
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

  /** May this user write / act in this conversation? */
  private canAct(c: ConvVM): boolean {
    if (c.state === 'closed' || c.gone) return false;
    if (c.agentId === this.session!.user_id) return true;
    return this.isSupervisor && (c.joined === 'whisper' || c.joined === 'barge');
  }

  private sendReply(): void {
    const c = this.selected ? this.model.convs.get(this.selected) : undefined;
    const text = this.els.input.value.trim();
    if (!c || !text || !this.client || !this.canAct(c)) return;
    if (new TextEncoder().encode(text).length > 4000) return this.toast('The message is too long (4000 bytes at most).', true);
    const entry = this.client.send(text, c.id);
    c.pending.set(entry.client_msg_id, { client_msg_id: entry.client_msg_id, text, ts: entry.created_ts });
    this.els.input.value = '';
    this.stopTyping();
    this.stickToBottom = true;
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

  private act(frame: { type: string; [k: string]: unknown }, done?: string): void {
    if (!this.client?.sendFrame(frame)) return this.toast('Not connected: try again in a moment.', true);
    if (done) this.toast(done);
  }

  private alertEscalation(severity: string): void {
    this.beep(severity === 'critical' ? 3 : severity === 'high' ? 2 : 1);
    this.notifyTitle('⚠ Escalation');
  }

  private beep(times: number): void {
    try {
      const Ctx = window.AudioContext || (window as unknown as { webkitAudioContext: typeof AudioContext }).webkitAudioContext;
      const ctx = new Ctx();
      for (let i = 0; i < times; i++) {
        const o = ctx.createOscillator();
        const g = ctx.createGain();
        o.frequency.value = 880;
        g.gain.setValueAtTime(0.0001, ctx.currentTime + i * 0.25);
        g.gain.exponentialRampToValueAtTime(0.2, ctx.currentTime + i * 0.25 + 0.02);
        g.gain.exponentialRampToValueAtTime(0.0001, ctx.currentTime + i * 0.25 + 0.18);
        o.connect(g).connect(ctx.destination);
        o.start(ctx.currentTime + i * 0.25);
        o.stop(ctx.currentTime + i * 0.25 + 0.2);
      }
      setTimeout(() => void ctx.close(), times * 300 + 200);
    } catch {
      /* no audio (autoplay policy): the title notice still works */
    }
  }

  private notifyTitle(label?: string): void {
    if (this.visible() && !label) return;
    if (this.titleFlash) clearInterval(this.titleFlash);
    let on = false;
    const text = label ?? 'New message';
    this.titleFlash = setInterval(() => {
      on = !on;
      document.title = on ? `${text} · Calma Console` : this.baseTitle();
    }, 1000);
    setTimeout(() => this.stopTitleFlash(), this.visible() ? 10000 : 600000);
  }

  private stopTitleFlash(): void {
    if (this.titleFlash) clearInterval(this.titleFlash);
    this.titleFlash = null;
    document.title = this.baseTitle();
  }

  private baseTitle(): string {
    let unread = 0;
    for (const c of this.model.convs.values()) if (!c.gone && c.state !== 'closed') unread += this.model.unread(c);
    return unread ? `(${unread}) Calma Console` : 'Calma Console';
  }

  private toastTimer: ReturnType<typeof setTimeout> | null = null;
  private toast(text: string, error = false): void {
    const t = this.els.toast;
    t.textContent = text;
    t.className = 'toast' + (error ? ' error' : '');
    t.hidden = false;
    if (this.toastTimer) clearTimeout(this.toastTimer);
    this.toastTimer = setTimeout(() => (t.hidden = true), 5000);
  }

  // ---- rendering --------------------------------------------------------------

  private schedule(): void {
    if (this.renderQueued) return;
    this.renderQueued = true;
    setTimeout(() => {
      this.renderQueued = false;
      this.render();
    }, 0);
  }

  /** full=false: the once-a-second refresh of times only (keeps the transcript's text selection). */
  private render(full = true): void {
    if (!this.session || !this.els) return;
    const now = Date.now();
    this.renderTop();
    this.renderList(now);
    if (full) {
      this.renderPane(now);
      this.renderAnger();
    } else {
      const c = this.selected ? this.model.convs.get(this.selected) : undefined;
      this.els.typing.textContent = c?.typing && c.typing.until > now ? `${c.typing.name} is typing…` : '';
    }
    if (this.isSupervisor) {
      this.renderEscalations(now);
      this.renderQueues();
    }
    if (!this.titleFlash) document.title = this.baseTitle();
  }

  private renderTop(): void {
    const labels: Record<ConnState, string> = {
      connected: 'Connected',
      connecting: 'Connecting…',
      authenticating: 'Connecting…',
      disconnected: 'Reconnecting…',
      stopped: 'Offline',
    };
    this.els.conn.textContent = labels[this.connState];
    this.els.conn.className = 'conn ' + (this.connState === 'connected' ? 'ok' : 'bad');
    if (this.presence && this.els.presence.value !== this.presence && document.activeElement !== this.els.presence) {
      this.els.presence.value = this.presence;
    }
    this.els.presence.dataset.status = this.presence ?? '';
    this.els.presence.title = this.capacity != null ? `Capacity: ${this.capacity} conversations` : '';
  }

  /** A staff member's name from what this console knows (snapshot, conversations, itself). */
  private staffName(id: string): string {
    if (id === this.session?.user_id) return this.session.name;
    const a = this.model.snapshot?.agents?.find((x) => x.id === id);
    if (a?.name) return a.name;
    for (const c of this.model.convs.values()) if (c.agentId === id && c.agentName) return c.agentName;
    return id;
  }

  private shopperName(c: ConvVM): string {
    return c.shopper?.name || `Shopper ${(c.shopper?.id ?? c.id).slice(-4)}`;
  }

  private renderList(now: number): void {
    const list = this.els.list;
    const convs = this.model.ordered(now);
    const active = convs.filter((c) => !c.gone && c.state !== 'closed').length;
    this.els.listCount.textContent = String(active);
    swapIfChanged(list, (list) => this.buildList(list, convs, now));
  }

  private buildList(list: HTMLElement, convs: ConvVM[], now: number): void {
    if (!convs.length) {
      list.append(h('li', { class: 'empty' }, this.isSupervisor ? 'No open conversations.' : 'No conversations yet. New chats will appear here when they are assigned to you.'));
      return;
    }
    for (const c of convs) {
      const msgs = this.model.sortedMessages(c).filter((m) => m.visibility !== 'staff');
      const last = msgs[msgs.length - 1];
      // Unread counts matter to whoever answers: the holder, or a supervisor who joined.
      const unread = c.agentId === this.session!.user_id || c.joined ? this.model.unread(c) : 0;
      const esc = this.model.openEscalationFor(c.id);
      const wait = c.waitingSince ? now - c.waitingSince : c.state === 'queued' ? now - c.createdTs : 0;
      const anger = c.anger;
      const item = h(
        'li',
        {},
        h(
          'button',
          {
            type: 'button',
            class: 'conv-item' + (c.id === this.selected ? ' selected' : '') + (c.gone || c.state === 'closed' ? ' dim' : ''),
            'aria-current': c.id === this.selected ? 'true' : null,
            'data-conv': c.id,
            'data-testid': 'conv-item',
          },
          h('span', { class: 'avatar', style: anger ? `box-shadow: 0 0 0 2px ${levelColor(anger.level)}` : null }, initials(this.shopperName(c))),
          h(
            'span',
            { class: 'conv-main' },
            h(
              'span',
              { class: 'conv-line' },
              h('span', { class: 'conv-name' }, this.shopperName(c)),
              c.shopper?.language ? h('span', { class: 'lang' }, c.shopper.language.toUpperCase()) : null,
              esc ? h('span', { class: `sev ${esc.severity}`, title: 'Escalated: ' + esc.reasons.join(', ') }, '⚠') : null,
              c.alert && !c.gone && c.state !== 'closed' ? h('span', { class: `tag-alert ${c.alert.kind}` }, c.alert.kind === 'nudge' ? 'reply' : 'rising') : null,
              h('span', { class: 'spacer' }),
              unread ? h('span', { class: 'unread', 'aria-label': `${unread} unread`, 'data-testid': 'unread' }, String(unread)) : null,
            ),
            h('span', { class: 'conv-preview' }, c.gone ?? (last ? (last.from?.id === this.session!.user_id ? 'You: ' : last.from?.role === 'shopper' ? '' : `${last.from?.name || 'Staff'}: `) + last.text : c.knownLastSeq ? `${c.knownLastSeq} message${c.knownLastSeq === 1 ? '' : 's'}` : c.state === 'queued' ? 'Waiting in queue' : this.isSupervisor ? 'Open to see the messages' : 'No messages yet')),
            h(
              'span',
              { class: 'conv-line small' },
              h('span', { class: `state ${c.state}` }, c.state),
              this.isSupervisor && c.agentName ? h('span', { class: 'muted' }, c.agentName) : null,
              wait > 15000 && c.state !== 'closed' ? h('span', { class: 'wait', title: 'Waiting for a reply' }, icon(ICONS.clock, 12), fmtDuration(wait)) : null,
              h('span', { class: 'spacer' }),
              anger
                ? h('span', { class: 'anger-pill', style: `background:${levelColor(anger.level)}`, 'data-testid': 'anger-pill' }, `${Math.round(anger.level)} · ${anger.phase}`)
                : null,
            ),
          ),
        ),
      );
      item.firstElementChild!.addEventListener('click', () => this.select(c.id));
      list.append(item);
    }
  }

  private renderPane(now: number): void {
    const { paneHead, transcript, typing, composerNote, input, sendBtn } = this.els;
    const c = this.selected ? this.model.convs.get(this.selected) : undefined;
    if (!c) {
      clear(paneHead);
      this.els.alertBar.hidden = true;
      clear(transcript);
      transcript.append(h('div', { class: 'placeholder' }, h('div', { class: 'placeholder-icon', 'aria-hidden': 'true' }, icon(ICONS.chat, 44)), h('p', {}, 'Select a conversation')));
      typing.textContent = '';
      composerNote.textContent = '';
      input.disabled = sendBtn.disabled = true;
      this.lastRenderedConv = null;
      return;
    }
    const me = this.session!.user_id;
    const owner = c.agentId === me;
    const actions = h('div', { class: 'actions', 'data-conv': c.id });
    if (c.state !== 'closed' && !c.gone && (owner || this.isSupervisor)) {
      const closeBtn = h('button', { class: 'btn', type: 'button', 'data-testid': 'close-conv' }, 'Close');
      closeBtn.addEventListener('click', () => this.act({ type: 'conversation.close', conversation_id: c.id, reason: 'resolved' }));
      actions.append(this.transferControl(c), closeBtn);
    }
    if (this.isSupervisor && c.state !== 'closed') {
      const group = h('div', { class: 'seg', role: 'group', 'aria-label': 'Join conversation' });
      for (const mode of ['monitor', 'whisper', 'barge'] as JoinMode[]) {
        const b = h('button', { class: 'btn seg-btn' + (c.joined === mode ? ' on' : ''), type: 'button', 'aria-pressed': String(c.joined === mode), 'data-testid': `join-${mode}` }, mode[0].toUpperCase() + mode.slice(1));
        b.addEventListener('click', () => this.act({ type: 'conversation.join', conversation_id: c.id, mode }));
        group.append(b);
      }
      actions.prepend(group);
      if (!owner) {
        const take = h('button', { class: 'btn warn', type: 'button', 'data-testid': 'takeover' }, 'Take over');
        take.addEventListener('click', () => this.act({ type: 'conversation.takeover', conversation_id: c.id }));
        actions.append(take);
      }
    }
    swapIfChanged(paneHead, (head) => head.append(
      h('span', { class: 'avatar lg' }, initials(this.shopperName(c))),
      h(
        'div',
        { class: 'pane-title' },
        h('h2', { 'data-testid': 'pane-title' }, this.shopperName(c)),
        h(
          'div',
          { class: 'muted small' },
          [
            c.state === 'closed' ? `Closed${c.closedReason ? ' (' + c.closedReason + ')' : ''}` : c.state === 'queued' ? `Queued${c.queue ? ' in ' + c.queue : ''}` : `Assigned to ${owner ? 'you' : c.agentName || c.agentId || '—'}`,
            c.shopper?.language ? `Language: ${c.shopper.language}` : '',
            c.joined ? `You joined: ${c.joined}` : '',
            `Started ${fmtTime(c.createdTs)}`,
          ]
            .filter(Boolean)
            .join(' · '),
        ),
      ),
      actions,
    ));

    // transcript
    const switched = this.lastRenderedConv !== c.id;
    this.lastRenderedConv = c.id;
    const msgs = this.model.sortedMessages(c);
    const changed = swapIfChanged(transcript, (transcript) => this.buildTranscript(transcript, c, msgs));
    if (changed && (switched || this.stickToBottom)) transcript.scrollTop = transcript.scrollHeight;
    this.renderComposer(c, now);
  }

  private buildTranscript(transcript: HTMLElement, c: ConvVM, msgs: ChatMessage[]): void {
    const me = this.session!.user_id;
    if (!msgs.length && !c.pending.size) transcript.append(h('div', { class: 'placeholder small' }, 'No messages yet.'));
    let lastStaffSeq = 0;
    for (const m of msgs) if (m.from?.role !== 'shopper' && m.visibility !== 'staff') lastStaffSeq = m.seq;
    for (const m of msgs) {
      const mine = m.from?.id === me;
      const role = m.from?.role ?? 'agent';
      const whisper = m.visibility === 'staff';
      const cls = ['msg', role === 'shopper' ? 'from-shopper' : 'from-staff', mine ? 'mine' : '', whisper ? 'whisper' : ''].join(' ');
      const who = mine ? 'You' : m.from?.name || (role === 'shopper' ? this.shopperName(c) : role);
      const receipt = !whisper && role !== 'shopper' && m.seq === lastStaffSeq && c.peerReadSeq >= m.seq ? ' · Seen' : '';
      transcript.append(
        h(
          'div',
          { class: cls, 'data-seq': m.seq, 'data-testid': whisper ? 'msg-whisper' : role === 'shopper' ? 'msg-shopper' : 'msg-staff' },
          h('div', { class: 'msg-who' }, who, whisper ? h('span', { class: 'whisper-tag' }, 'Whisper · staff only') : null),
          h('div', { class: 'bubble' }, m.text),
          h('div', { class: 'msg-meta' }, fmtTime(m.ts) + receipt),
        ),
      );
    }
    for (const p of c.pending.values()) {
      const whisper = this.myVisibility(c.id) === 'staff';
      transcript.append(
        h(
          'div',
          { class: 'msg from-staff mine pending' + (whisper ? ' whisper' : ''), 'data-testid': 'msg-pending' },
          h('div', { class: 'msg-who' }, 'You'),
          h('div', { class: 'bubble' }, p.text),
          h('div', { class: 'msg-meta' + (p.failed ? ' failed' : '') }, p.failed ? `Not sent (${p.failed})` : 'Sending…'),
        ),
      );
    }
    if (c.state === 'closed') transcript.append(h('div', { class: 'sysline', 'data-testid': 'closed-line' }, 'Conversation closed' + (c.closedReason ? ` — ${c.closedReason}` : '')));
  }

  private renderComposer(c: ConvVM, now: number): void {
    const { typing, composerNote, input, sendBtn, alertBar } = this.els;
    const alert = c.state !== 'closed' && !c.gone ? c.alert : undefined;
    alertBar.hidden = !alert;
    alertBar.className = 'alert-bar ' + (alert?.kind ?? '');
    const why = alert?.reasons.join('; ');
    alertBar.textContent = alert
      ? alert.kind === 'nudge'
        ? `⏱ ${why || 'The customer is waiting for your reply.'}`
        : `⚠ ${why || 'Anger is rising.'} Acknowledge the feeling before explaining.`
      : '';

    typing.textContent = c.typing && c.typing.until > now ? `${c.typing.name} is typing…` : '';

    const can = this.canAct(c);
    input.disabled = sendBtn.disabled = !can;
    const vis = this.myVisibility(c.id);
    composerNote.className = 'composer-note' + (vis === 'staff' && can ? ' whisper' : '');
    composerNote.textContent = c.gone
      ? c.gone
      : c.state === 'closed'
        ? 'This conversation is closed.'
        : !can && this.isSupervisor
          ? c.joined === 'monitor'
            ? 'Monitoring (read-only). Whisper to coach the agent, barge in to talk to the shopper, or take over.'
            : 'Join in whisper or barge mode (or take over) to write.'
          : vis === 'staff'
            ? 'Whisper mode: only staff see what you write.'
            : '';
    input.placeholder = vis === 'staff' ? 'Whisper to the agent (staff only)…' : 'Write a reply… (Enter to send, Shift+Enter for a new line)';
  }

  private transferControl(c: ConvVM): HTMLElement {
    const sel = h('select', { 'aria-label': 'Transfer to', 'data-testid': 'transfer-select' }, h('option', { value: '' }, 'Transfer…'));
    const queues = this.model.snapshot?.queues?.map((q) => q.name) ?? [];
    for (const q of queues.length ? queues : [c.queue || 'default']) sel.append(h('option', { value: 'queue:' + q }, `Back to queue “${q}”`));
    for (const a of this.model.snapshot?.agents ?? []) {
      if (a.id === c.agentId) continue;
      sel.append(h('option', { value: 'agent:' + a.id }, `${a.name} (${a.status}, ${a.load}/${a.capacity})`));
    }
    sel.append(h('option', { value: 'other' }, 'Another agent (by id)…'));
    sel.addEventListener('change', () => {
      const v = sel.value;
      sel.value = '';
      if (!v) return;
      if (v.startsWith('queue:')) return this.act({ type: 'conversation.transfer', conversation_id: c.id, to_queue: v.slice(6) }, 'Sent back to the queue');
      let agentId = v.startsWith('agent:') ? v.slice(6) : '';
      if (v === 'other') agentId = (window.prompt('Agent id to transfer to:') ?? '').trim();
      if (agentId) this.act({ type: 'conversation.transfer', conversation_id: c.id, to_agent_id: agentId }, 'Transfer requested');
    });
    return sel;
  }

  private renderAnger(): void {
    const c = this.selected ? this.model.convs.get(this.selected) : undefined;
    const { angerStats, coaching } = this.els;
    clear(angerStats);
    clear(coaching);
    const a = c?.anger;
    const width = this.els.anger.clientWidth - 32;
    this.chart.update(a?.curve, width > 0 ? width : 300);
    if (!c) {
      angerStats.append(h('span', { class: 'muted' }, 'No conversation selected'));
      return;
    }
    if (!a) {
      angerStats.append(h('span', { class: 'big muted' }, '—'), h('span', { class: 'phase none', 'data-testid': 'anger-level' }, 'no data'));
      coaching.append(h('div', { class: 'hint-title' }, 'Coaching'), h('p', {}, COACHING.calm.hint));
      return;
    }
    const trend = a.trend || 0;
    angerStats.append(
      h('span', { class: 'big', style: `color:${levelColor(a.level)}`, 'data-testid': 'anger-level' }, String(Math.round(a.level))),
      h('span', { class: `phase ${a.phase}`, 'data-testid': 'anger-phase' }, COACHING[a.phase]?.title ?? a.phase),
      h('span', { class: 'trend', title: 'points per minute' }, `${trend > 0.5 ? '▲' : trend < -0.5 ? '▼' : '▬'} ${trend > 0 ? '+' : ''}${trend.toFixed(1)}/min`),
    );
    if (typeof a.etaS === 'number' && a.etaS >= 0 && a.level < 80) {
      angerStats.append(h('span', { class: 'eta', 'data-testid': 'anger-eta' }, `crosses 80 in ~${fmtDuration(a.etaS * 1000)}`));
    }
    if (a.cues.length) angerStats.append(h('div', { class: 'cues' }, ...a.cues.slice(0, 6).map((cue) => h('span', { class: 'cue' }, cue))));
    const coach = COACHING[a.phase] ?? COACHING.calm;
    coaching.className = 'coaching ' + a.phase;
    // The server's hint is in the conversation's language; ours is the fallback.
    coaching.append(h('div', { class: 'hint-title' }, `Coaching · ${coach.title}`), h('p', {}, a.coaching || coach.hint));
  }

  private renderEscalations(now: number): void {
    const box = this.els.escalations!;
    const all = this.model.orderedEscalations();
    const open = all.filter((e) => e.status !== 'resolved');
    this.els.escCount!.textContent = String(open.length);
    this.els.escCount!.className = 'pill' + (all.some((e) => e.status === 'open') ? ' alert' : '');
    // Do not rebuild while the supervisor types a note.
    if (box.contains(document.activeElement) && (document.activeElement as HTMLElement).tagName === 'INPUT') return;
    swapIfChanged(box, (box) => {
      if (!all.length) box.append(h('p', { class: 'muted' }, 'No escalations. Conversations that go bad will show up here.'));
      for (const e of all.slice(0, 20)) box.append(this.escalationCard(e, now));
    });
  }

  private escalationCard(e: EscalationVM, now: number): HTMLElement {
    const c = this.model.convs.get(e.conversation_id);
    const note = h('input', { type: 'text', placeholder: 'Resolution note', 'aria-label': 'Resolution note', 'data-testid': 'esc-note' });
    const ack = h('button', { class: 'btn', type: 'button', disabled: e.status !== 'open', 'data-testid': 'esc-ack' }, 'Acknowledge');
    ack.addEventListener('click', () => this.act({ type: 'escalation.ack', escalation_id: e.escalation_id }));
    const resolve = h('button', { class: 'btn primary', type: 'button', 'data-testid': 'esc-resolve' }, 'Resolve');
    resolve.addEventListener('click', () => this.act({ type: 'escalation.resolve', escalation_id: e.escalation_id, note: note.value.trim() || undefined }));
    const openBtn = h('button', { class: 'btn ghost', type: 'button' }, 'Open');
    openBtn.addEventListener('click', () => this.select(e.conversation_id));
    const curve = e.curve?.length ? e.curve : c?.anger?.curve;
    const tail = (e.transcript_tail ?? []).slice(-3);
    const spark = sparkline(curve?.map((p) => p.level) ?? []);
    return h(
      'article',
      { class: `esc ${e.severity} ${e.status}`, 'data-testid': 'esc-card', 'data-esc': e.escalation_id, 'data-conv': e.conversation_id },
      h(
        'div',
        { class: 'esc-head' },
        h('span', { class: `sev-badge ${e.severity}` }, e.severity),
        h('strong', {}, c ? this.shopperName(c) : e.conversation_id),
        h('span', { class: 'spacer' }),
        h('span', { class: 'muted small' }, fmtDuration(now - e.raised_ts) + ' ago'),
      ),
      h('div', { class: 'esc-reasons' }, ...e.reasons.map((r) => h('span', { class: 'reason' }, r)), e.renotified ? h('span', { class: 'reason renotified' }, `re-notified ×${e.renotified}`) : null),
      escalationFacts(e, (id) => this.staffName(id)),
      h('div', { class: 'esc-level' }, h('span', { style: `color:${levelColor(e.level)}` }, `Level ${Math.round(e.level)}`), spark),
      tail.length ? h('div', { class: 'esc-tail' }, ...tail.map((m) => h('div', {}, h('b', {}, (m.from?.name || m.from?.role || '') + ': '), m.text))) : null,
      e.status === 'resolved'
        ? h('div', { class: 'muted small' }, `Resolved${e.resolvedBy ? ' by ' + this.staffName(e.resolvedBy) : ''}${e.note ? ': ' + e.note : ''}`)
        : h('div', { class: 'esc-actions' }, e.status === 'acked' ? h('span', { class: 'muted small' }, `Acked${e.ackedBy ? ' by ' + this.staffName(e.ackedBy) : ''}`) : ack, note, resolve, openBtn),
    );
  }

  private renderQueues(): void {
    const box = this.els.queues!;
    const snap = this.model.snapshot;
    if (!snap) return;
    swapIfChanged(box, (box) => this.buildQueues(box, snap));
  }

  private buildQueues(box: HTMLElement, snap: NonNullable<ConsoleModel['snapshot']>): void {
    const queues = snap.queues ?? [];
    for (const q of queues) {
      const waiting = q.waiting ?? [];
      const rows = waiting.map((w) => {
        const c = this.model.convs.get(w.conversation_id);
        const btn = h('button', { class: 'linkish', type: 'button', 'data-conv': w.conversation_id }, c ? this.shopperName(c) : w.conversation_id.slice(0, 8));
        btn.addEventListener('click', () => this.select(w.conversation_id));
        return h(
          'li',
          {},
          btn,
          h('span', { class: 'spacer' }),
          typeof w.level === 'number' ? h('span', { class: 'anger-pill', style: `background:${levelColor(w.level)}` }, String(Math.round(w.level))) : null,
          h('span', { class: 'muted small' }, fmtDuration((w.wait_s ?? 0) * 1000)),
        );
      });
      box.append(
        h(
          'div',
          { class: 'queue', 'data-testid': 'queue' },
          h('div', { class: 'queue-head' }, h('strong', {}, q.name), h('span', { class: 'pill' + (waiting.length ? ' alert' : '') }, `${waiting.length} waiting`)),
          rows.length ? h('ul', { class: 'waiting' }, ...rows) : h('p', { class: 'muted small' }, 'Nobody waiting'),
        ),
      );
    }
    const agents = snap.agents ?? [];
    const table = h(
      'table',
      { class: 'agents', 'data-testid': 'agents' },
      h('thead', {}, h('tr', {}, h('th', {}, 'Agent'), h('th', {}, 'Status'), h('th', {}, 'Load'))),
      h(
        'tbody',
        {},
        ...agents.map((a) =>
          h(
            'tr',
            {},
            h('td', {}, a.name || a.id),
            h('td', {}, h('span', { class: `dot ${a.status}` }), String(a.status)),
            h('td', {}, h('span', { class: 'load' }, h('span', { class: 'load-bar', style: `width:${a.capacity ? Math.min(100, (100 * a.load) / a.capacity) : 0}%` })), `${a.load}/${a.capacity}`),
          ),
        ),
      ),
    );
    box.append(agents.length ? table : h('p', { class: 'muted small' }, 'No agents online'));
    box.append(h('p', { class: 'muted tiny' }, `Updated ${fmtTime(this.model.snapshotTs)}`));
  }
}

/** Waiting times and who handled it so far, when the server sends them. */
function escalationFacts(e: EscalationVM, nameOf: (id: string) => string): HTMLElement | null {
  const facts: string[] = [];
  const w = e.waiting;
  if (w?.queued_s) facts.push(`queued ${fmtDuration(w.queued_s * 1000)}`);
  if (w?.unanswered_s) facts.push(`unanswered ${fmtDuration(w.unanswered_s * 1000)}`);
  if (w?.conversation_s) facts.push(`open ${fmtDuration(w.conversation_s * 1000)}`);
  if (e.handled_by?.length) facts.push(`handled by ${e.handled_by.map(nameOf).join(' → ')}`);
  else if (e.agent?.name) facts.push(`agent ${e.agent.name}`);
  return facts.length ? h('div', { class: 'muted small esc-facts' }, facts.join(' · ')) : null;
}

/**
 * Build new content off-document and swap it in only if it differs, so the
 * once-a-second refresh does not steal keyboard focus, text selection or an open
 * <select>. Focus moves to the equivalent new element (same data-testid/data-conv).
 * Returns whether anything changed.
 */
function swapIfChanged(target: HTMLElement, build: (into: HTMLElement) => void): boolean {
  const tmp = document.createElement(target.tagName);
  build(tmp);
  // Reading our own generated markup to compare is safe; nothing is ever written via innerHTML.
  if (tmp.innerHTML === target.innerHTML) return false;
  const active = document.activeElement as HTMLElement | null;
  const key = active && target.contains(active) ? focusKey(active) : null;
  target.replaceChildren(...Array.from(tmp.childNodes));
  if (key) {
    const again = Array.from(target.querySelectorAll<HTMLElement>('[data-testid]')).find((el) => focusKey(el) === key);
    again?.focus();
  }
  return true;
}

function focusKey(el: HTMLElement): string {
  return `${el.dataset.testid ?? ''}|${el.dataset.conv ?? ''}|${el.textContent ?? ''}`;
}

/** A tiny inline SVG sparkline of levels 0–100 (numbers only, no user text). */
function sparkline(levels: number[]): SVGSVGElement {
  const ns = 'http://www.w3.org/2000/svg';
  const svg = document.createElementNS(ns, 'svg');
  svg.setAttribute('viewBox', '0 0 100 24');
  svg.setAttribute('class', 'spark');
  svg.setAttribute('aria-hidden', 'true');
  if (levels.length > 1) {
    const pts = levels.map((l, i) => `${((i / (levels.length - 1)) * 100).toFixed(1)},${(24 - (Math.max(0, Math.min(100, l)) / 100) * 22 - 1).toFixed(1)}`);
    const line = document.createElementNS(ns, 'polyline');
    line.setAttribute('points', pts.join(' '));
    line.setAttribute('fill', 'none');
    line.setAttribute('stroke', '#dc2626');
    line.setAttribute('stroke-width', '1.5');
    svg.appendChild(line);
  }
  return svg;
}
