/**
 * The embeddable shopper widget: one <script src=".../widget.js" data-store="demo"
 * data-lang="es"> tag. Everything renders inside a Shadow DOM so the store's CSS
 * cannot break it and ours cannot leak into the store.
 *
 * The shopper never sees anger data or staff-only messages: anger.* and escalation.*
 * frames are ignored, and chat messages with visibility "staff" are dropped here too
 * (defence in depth: the server must not send them in the first place).
 */
import { CalmaClient, type ConnState } from '../protocol/client';
import { ErrorCode } from '../protocol/codes';
import { safeStorage, type StorageLike } from '../protocol/storage';
import type { SocketFactory } from '../protocol/transport';
import type {
  ChatMessage,
  ContactFrame,
  ContactSavedMsg,
  ConversationSummary,
  CsatFrame,
  CsatSavedMsg,
  ServerMessage,
  ShopperContext,
  ShopperHelloV11,
  StoreWidgetInfo,
  Welcome,
} from '../protocol/types';
import { wsUrlFor } from '../protocol/index';
import { ICONS, clear, fmtTime, h, icon, initials } from '../shared/dom';
import { STRINGS, pickLang, type Lang, type Strings } from './i18n';
import {
  availabilityKind,
  describeAvailability,
  fetchStoreInfo,
  fieldOfServerError,
  parseContext,
  upcomingClosedDates,
  validateContact,
  weeklyRows,
  type ContactErrors,
  type FetchLike,
} from './availability';
import css from './widget.css?inline';

export interface WidgetConfig {
  store: string;
  lang: Lang;
  /** http(s) origin of the Calma server */
  server: string;
  storage?: StorageLike;
  /** Tests inject a fake WebSocket. */
  createSocket?: SocketFactory;
  /**
   * The language sent in hello (used by the server's anger scorer and coaching). Only
   * when the browser's language agrees with the widget's: a store forcing data-lang="es"
   * says nothing about what a visitor will write, and a wrong language hurts the scorer
   * more than none (the server then detects it per message).
   */
  shopperLanguage?: Lang;
  /** v1.1 `hello.context` (already validated: see parseContext), sent on a fresh hello only. */
  context?: ShopperContext;
  /** BCP 47 locale for dates and times (the browser's when it is of `lang`, else `lang`). */
  locale?: string;
  /** Tests inject a fake fetch for GET /api/v1/stores/{id}/widget. */
  fetch?: FetchLike;
  /** How often the store's opening state is refetched while the panel is open (60 s). */
  storeInfoEveryMs?: number;
}

/** Sent after `contact.saved` does not come in this long: tell the shopper to try again. */
const CONTACT_TIMEOUT_MS = 15000;
/** Same for a rating without `csat.saved` (or an error) in this long. */
const RATING_TIMEOUT_MS = 15000;
/** The server's limit on a rating's comment (bytes of UTF-8). */
export const MAX_RATING_COMMENT_BYTES = 500;
/** How many rated conversation ids are remembered (the oldest go first). */
const RATED_KEEP = 50;

/** The rating after a closed conversation: pick a score, then send (with a comment or not). */
type RatingState = 'choosing' | 'sending' | 'error' | 'done';

type ContactField = 'email' | 'phone' | 'note';

type MsgStatus = 'pending' | 'sent' | 'read' | 'failed';

interface Row {
  el: HTMLElement;
  meta: HTMLElement;
  seq?: number;
  mine: boolean;
  status?: MsgStatus;
}

export class ChatWidget {
  private t: Strings;
  private storage: StorageLike;
  private client: CalmaClient;
  private root: ShadowRoot;
  private host: HTMLElement;
  private keys: { token: string; conv: string; name: string; open: string; outbox: string; contact: string; rated: string };
  private locale: string;

  // state
  private conversationId: string | null = null;
  private convState: ConversationSummary['state'] | null = null;
  private agentName: string | null = null;
  private queue: { position: number; wait: number } | null = null;
  private rows = new Map<string, Row>(); // key: "s:<seq>" or "c:<client_msg_id>"
  private lastOtherSeq = 0;
  private lastReadSent = 0;
  private unread = 0;
  private isOpen = false;
  private everConnected = false;
  private typingTimer: ReturnType<typeof setTimeout> | null = null;
  private typingSentAt = 0;
  private typingStopTimer: ReturnType<typeof setTimeout> | null = null;
  // v1.1: the store's opening state and the offline contact form
  private storeInfo: StoreWidgetInfo | null = null;
  private storeInfoSeq = 0;
  private storeInfoTimer: ReturnType<typeof setInterval> | null = null;
  /** Latest word on whether nobody can answer now: the queued frame or the store info, whichever came last. */
  private offline: { reason: 'closed' | 'no_agents'; next_open_ts: number | null } | null = null;
  private contactState: 'idle' | 'sending' | 'saved' = 'idle';
  /** The contact to send once a conversation exists (and the connection is up). */
  private pendingContact: Omit<ContactFrame, 'type' | 'conversation_id'> | null = null;
  private contactSentOn: string | null = null;
  /** client_msg_id of the note sent as the first chat message, before the contact. */
  private contactNoteMsg: string | null = null;
  private contactTimer: ReturnType<typeof setTimeout> | null = null;
  private savedContact: { email: string | null; phone: string | null } | null = null;
  private contactEditing = false;
  // Issue 9: the rating (CSAT) of a closed conversation
  /** The conversation the rating UI is about (its state is reset when this changes). */
  private ratingConv: string | null = null;
  private ratingState: RatingState = 'choosing';
  private ratingScore: number | null = null;
  /** The one `csat` frame of this rating, kept until it is answered (sent again after a reconnect). */
  private ratingPending: CsatFrame | null = null;
  private ratingSent = false;
  private ratingTimer: ReturnType<typeof setTimeout> | null = null;

  // elements
  private launcher!: HTMLButtonElement;
  private badge!: HTMLElement;
  private panel!: HTMLElement;
  private headAvatar!: HTMLElement;
  private headSub!: HTMLElement;
  private headTitle!: HTMLElement;
  private status!: HTMLElement;
  private log!: HTMLElement;
  private typingEl!: HTMLElement;
  private closedEl!: HTMLElement;
  private composer!: HTMLElement;
  private nameField!: HTMLElement;
  private nameInput!: HTMLInputElement;
  private input!: HTMLTextAreaElement;
  private sendBtn!: HTMLButtonElement;
  private endBtn!: HTMLButtonElement;
  private scroller!: HTMLElement;
  private avail!: HTMLElement;
  private availText!: HTMLElement;
  private hoursEl!: HTMLDetailsElement;
  private offlineEl!: HTMLElement;
  private contactForm!: HTMLFormElement;
  private contactFields!: Record<ContactField, HTMLInputElement | HTMLTextAreaElement>;
  private contactErrs!: Record<ContactField | 'form', HTMLElement>;
  private noteLabel!: HTMLElement;
  private contactSubmit!: HTMLButtonElement;
  private contactThanks!: HTMLElement;
  private ratingEl!: HTMLElement;
  private ratingAsk!: HTMLElement;
  private ratingOpts: HTMLButtonElement[] = [];
  private ratingMore!: HTMLFormElement;
  private ratingComment!: HTMLTextAreaElement;
  private ratingSendBtn!: HTMLButtonElement;
  private ratingSkipBtn!: HTMLButtonElement;
  private ratingError!: HTMLElement;
  private ratingThanks!: HTMLElement;

  constructor(private cfg: WidgetConfig) {
    this.t = STRINGS[cfg.lang];
    this.storage = cfg.storage ?? safeStorage('local');
    const p = `calma:${cfg.store}:`;
    this.keys = { token: p + 'token', conv: p + 'conversation', name: p + 'name', open: p + 'open', outbox: p + 'outbox', contact: p + 'contact', rated: p + 'rated' };
    this.locale = cfg.locale || cfg.lang;
    this.conversationId = this.storage.getItem(this.keys.conv);

    this.client = new CalmaClient({
      url: wsUrlFor(cfg.server),
      storage: this.storage,
      outboxKey: this.keys.outbox,
      syncWelcomeConversations: false,
      ...(cfg.createSocket ? { createSocket: cfg.createSocket } : {}),
      hello: () => {
        const token = this.storage.getItem(this.keys.token);
        if (token) return { type: 'hello', role: 'shopper', token };
        const name = this.storage.getItem(this.keys.name) || undefined;
        const hello: ShopperHelloV11 = { type: 'hello', role: 'shopper', store: cfg.store, name, language: cfg.shopperLanguage };
        // The server keeps the context with the shopper: a token hello needs none.
        if (cfg.context) hello.context = cfg.context;
        return hello;
      },
    });

    this.host = document.createElement('div');
    this.host.id = 'calma-widget';
    this.host.setAttribute('data-calma', 'widget');
    this.root = this.host.attachShadow({ mode: 'open' });
    this.build();
    this.wire();
  }

  mount(parent: HTMLElement = document.body): void {
    parent.appendChild(this.host);
    // A returning shopper (token or unsent messages) reconnects at once to resume.
    if (this.storage.getItem(this.keys.token) || this.client.outbox.size) this.client.connect();
    if (this.storage.getItem(this.keys.open) === '1') this.open(false);
    window.addEventListener('online', () => {
      if (this.client.state === 'disconnected') this.client.reconnectNow();
    });
  }

  // ---- DOM --------------------------------------------------------------------

  private build(): void {
    const t = this.t;
    // A constructed stylesheet where supported: a store's Content-Security-Policy without
    // 'unsafe-inline' would block a <style> element, but not adoptedStyleSheets.
    let style: HTMLStyleElement | null = null;
    try {
      const sheet = new CSSStyleSheet();
      sheet.replaceSync(css);
      this.root.adoptedStyleSheets = [sheet];
    } catch {
      style = document.createElement('style');
      style.textContent = css;
    }

    this.badge = h('span', { class: 'badge', hidden: true, 'aria-hidden': 'true' });
    this.launcher = h(
      'button',
      { class: 'launcher', type: 'button', 'aria-label': t.openChat, 'aria-expanded': 'false', 'aria-controls': 'calma-panel', 'data-testid': 'launcher' },
      icon(ICONS.chat, 28),
      this.badge,
    );

    this.headAvatar = h('div', { class: 'avatar', 'aria-hidden': 'true' }, icon(ICONS.chat, 20));
    this.headSub = h('div', { class: 'head-sub', 'data-testid': 'subtitle' }, t.subtitleIdle);
    this.endBtn = h('button', { class: 'icon-btn', type: 'button', 'aria-label': t.endChat, title: t.endChat, hidden: true, 'data-testid': 'end' }, icon(ICONS.end));
    const minBtn = h('button', { class: 'icon-btn', type: 'button', 'aria-label': t.closePanel, title: t.closePanel }, icon(ICONS.minimize, 24));
    minBtn.addEventListener('click', () => this.close());
    this.endBtn.addEventListener('click', () => this.endChat());

    this.headTitle = h('div', { class: 'head-title', id: 'calma-title' }, t.title);
    const header = h(
      'div',
      { class: 'header', 'data-testid': 'header' },
      this.headAvatar,
      h('div', { class: 'head-text' }, this.headTitle, this.headSub),
      this.endBtn,
      minBtn,
    );

    this.status = h('div', { class: 'status', hidden: true, role: 'status', 'data-testid': 'status' });
    this.buildAvailability();
    this.buildContactForm();
    this.log = h('div', { class: 'log', role: 'log', 'aria-live': 'polite', 'aria-label': t.title, 'data-testid': 'log' });
    this.typingEl = h('div', { class: 'typing', 'aria-live': 'polite', 'data-testid': 'typing' });
    // One scrolling area: the opening state, the messages, and the offline form under them
    // (on a phone the form then scrolls with the chat instead of squeezing it).
    this.scroller = h('div', { class: 'scroller', 'data-testid': 'scroller' }, this.avail, this.log, this.typingEl, this.offlineEl);

    const newBtn = h('button', { class: 'primary-btn', type: 'button', 'data-testid': 'new-chat' }, t.newChat);
    newBtn.addEventListener('click', () => this.newChat());
    this.buildRating();
    // The rating sits between "this conversation has ended" and the new-chat button: it
    // never stands in the way of starting again.
    this.closedEl = h('div', { class: 'closed', hidden: true, 'data-testid': 'closed' }, h('div', {}, t.closed), this.ratingEl, newBtn);

    this.nameInput = h('input', { type: 'text', id: 'calma-name', autocomplete: 'given-name', maxlength: 60, placeholder: t.namePlaceholder });
    this.nameInput.value = this.storage.getItem(this.keys.name) ?? '';
    this.nameField = h('label', { class: 'name-field', for: 'calma-name' }, t.nameLabel, this.nameInput);
    this.input = h('textarea', { rows: 1, placeholder: t.inputPlaceholder, 'aria-label': t.inputLabel, maxlength: 4000, 'data-testid': 'input' });
    this.sendBtn = h('button', { class: 'send', type: 'submit', 'aria-label': t.send, title: t.send, disabled: true, 'data-testid': 'send' }, icon(ICONS.send));
    const form = h('form', { class: 'composer-form' }, this.nameField, h('div', { class: 'input-row' }, this.input, this.sendBtn));
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      this.submit();
    });
    this.composer = h('div', { class: 'composer' }, form, h('div', { class: 'footer' }, t.poweredBy));

    this.panel = h(
      'div',
      { class: 'panel', id: 'calma-panel', role: 'dialog', 'aria-labelledby': 'calma-title', hidden: true, 'data-testid': 'panel', lang: this.cfg.lang },
      header,
      this.status,
      this.scroller,
      this.closedEl,
      this.composer,
    );
    if (style) this.root.append(style);
    this.root.append(this.panel, this.launcher);
    this.renderGreeting();
    this.renderHeader();
  }

  /** The store's opening state (text, and the weekly hours in a <details>). */
  private buildAvailability(): void {
    this.availText = h('div', { class: 'avail-text', 'data-testid': 'availability-text' });
    this.hoursEl = h('details', { class: 'hours', 'data-testid': 'hours', hidden: true });
    this.avail = h('div', { class: 'avail', hidden: true, role: 'status', 'data-testid': 'availability' }, icon(ICONS.clock, 18), h('div', { class: 'stack' }, this.availText, this.hoursEl));
  }

  /** The offline contact form: e-mail, phone, note; then a thank-you. */
  private buildContactForm(): void {
    const t = this.t;
    const errEl = (id: string) => h('div', { class: 'field-error', id: `calma-${id}-error`, 'data-testid': `${id}-error`, hidden: true, 'aria-live': 'polite' });
    this.contactErrs = { email: errEl('contact-email'), phone: errEl('contact-phone'), note: errEl('contact-note'), form: errEl('contact-form') };
    this.contactErrs.form.setAttribute('role', 'alert');
    const email = h('input', { type: 'email', id: 'calma-contact-email', name: 'email', autocomplete: 'email', inputmode: 'email', maxlength: 254, placeholder: t.emailPlaceholder, 'aria-describedby': 'calma-contact-email-error', 'data-testid': 'contact-email' });
    const phone = h('input', { type: 'tel', id: 'calma-contact-phone', name: 'phone', autocomplete: 'tel', inputmode: 'tel', maxlength: 32, placeholder: t.phonePlaceholder, 'aria-describedby': 'calma-contact-phone-error', 'data-testid': 'contact-phone' });
    const note = h('textarea', { id: 'calma-contact-note', name: 'note', rows: 2, maxlength: 500, 'aria-describedby': 'calma-contact-note-error', 'data-testid': 'contact-note' });
    this.contactFields = { email, phone, note };
    this.noteLabel = h('label', { for: 'calma-contact-note' }, t.noteLabel);
    const field = (label: HTMLElement, input: HTMLElement, err: HTMLElement) => h('div', { class: 'field' }, label, input, err);
    this.contactSubmit = h('button', { class: 'primary-btn wide', type: 'submit', 'data-testid': 'contact-submit' }, t.contactSubmit);
    this.contactForm = h(
      'form',
      { class: 'contact-form', novalidate: true, 'aria-labelledby': 'calma-contact-title', 'data-testid': 'contact-form' },
      h('div', { class: 'contact-title', id: 'calma-contact-title' }, t.contactTitle),
      h('p', { class: 'contact-intro' }, t.contactIntro),
      field(h('label', { for: 'calma-contact-email' }, t.emailLabel), email, this.contactErrs.email),
      field(h('label', { for: 'calma-contact-phone' }, t.phoneLabel), phone, this.contactErrs.phone),
      field(this.noteLabel, note, this.contactErrs.note),
      this.contactErrs.form,
      this.contactSubmit,
    );
    this.contactForm.addEventListener('submit', (e) => {
      e.preventDefault();
      this.submitContact();
    });
    for (const k of ['email', 'phone', 'note'] as ContactField[]) {
      this.contactFields[k].addEventListener('input', () => {
        if (!this.contactErrs[k].hidden) this.setFieldError(k, null);
        if (k !== 'note' && !this.contactErrs.email.hidden && this.contactErrs.email.dataset.key === 'errNeedOne') this.setFieldError('email', null);
      });
    }
    this.contactThanks = h('div', { class: 'contact-thanks', role: 'status', hidden: true, 'data-testid': 'contact-thanks' });
    this.offlineEl = h('div', { class: 'offline', hidden: true, 'data-testid': 'offline' }, this.contactForm, this.contactThanks);
  }

  /**
   * "How was your chat?": five scores as a radiogroup (roving tabindex, arrows move and
   * select, Enter/Space select), then an optional comment with Send, or "Skip comment"
   * to send the score alone. One `csat` frame per conversation (the server takes one).
   */
  private buildRating(): void {
    const t = this.t;
    this.ratingOpts = [];
    for (let n = 1; n <= 5; n++) {
      const b = h(
        'button',
        { class: 'rating-opt', type: 'button', role: 'radio', 'aria-checked': 'false', 'aria-label': t.ratingOption(n), tabindex: n === 1 ? 0 : -1, 'data-score': n, 'data-testid': `rating-${n}` },
        String(n),
      );
      b.addEventListener('click', () => this.chooseScore(n, false));
      b.addEventListener('keydown', (e) => this.onRatingKey(e, n));
      this.ratingOpts.push(b);
    }
    const group = h('div', { class: 'rating-scale', role: 'radiogroup', 'aria-labelledby': 'calma-rating-title', 'data-testid': 'rating-group' }, ...this.ratingOpts);
    const ends = h('div', { class: 'rating-ends', 'aria-hidden': 'true' }, h('span', {}, t.ratingLow), h('span', {}, t.ratingHigh));
    this.ratingAsk = h('div', { class: 'rating-ask' }, h('div', { class: 'rating-title', id: 'calma-rating-title' }, t.ratingTitle), group, ends);

    this.ratingComment = h('textarea', {
      id: 'calma-rating-comment',
      rows: 2,
      maxlength: MAX_RATING_COMMENT_BYTES,
      placeholder: t.ratingCommentPlaceholder,
      'aria-describedby': 'calma-rating-error',
      'data-testid': 'rating-comment',
    });
    this.ratingComment.addEventListener('keydown', (e) => {
      // As in the chat composer: Enter sends, Shift+Enter is a new line.
      if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
        e.preventDefault();
        this.sendRating(true);
      }
    });
    this.ratingComment.addEventListener('input', () => {
      if (this.ratingState !== 'sending') this.setRatingError(null);
    });
    this.ratingSendBtn = h('button', { class: 'primary-btn', type: 'submit', 'data-testid': 'rating-send' }, t.ratingSend);
    this.ratingSkipBtn = h('button', { class: 'link-btn', type: 'button', 'data-testid': 'rating-skip' }, t.ratingSkip);
    this.ratingSkipBtn.addEventListener('click', () => this.sendRating(false));
    this.ratingError = h('div', { class: 'rating-error', id: 'calma-rating-error', role: 'alert', 'data-testid': 'rating-error' });
    this.ratingMore = h(
      'form',
      { class: 'rating-more', hidden: true, novalidate: true, 'data-testid': 'rating-more' },
      h('label', { for: 'calma-rating-comment' }, t.ratingCommentLabel),
      this.ratingComment,
      h('div', { class: 'rating-actions' }, this.ratingSendBtn, this.ratingSkipBtn),
    );
    this.ratingMore.addEventListener('submit', (e) => {
      e.preventDefault();
      this.sendRating(true);
    });
    // Always in the DOM (empty when not thanking), so that filling it is announced.
    this.ratingThanks = h('div', { class: 'rating-thanks', role: 'status', tabindex: -1, 'data-testid': 'rating-thanks' });
    this.ratingEl = h('div', { class: 'rating', hidden: true, 'data-testid': 'rating' }, this.ratingAsk, this.ratingMore, this.ratingError, this.ratingThanks);
  }

  private renderGreeting(): void {
    clear(this.log);
    this.rows.clear();
    this.log.appendChild(h('div', { class: 'greeting' }, this.t.greeting));
  }

  private wire(): void {
    this.launcher.addEventListener('click', () => (this.isOpen ? this.close() : this.open(true)));
    this.panel.addEventListener('keydown', (e) => {
      if (e.key === 'Escape') {
        e.stopPropagation();
        this.close();
      }
    });
    this.input.addEventListener('keydown', (e) => {
      if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
        e.preventDefault();
        this.submit();
      }
    });
    this.input.addEventListener('input', () => {
      this.sendBtn.disabled = !this.input.value.trim();
      this.autosize();
      this.onTypingInput();
    });

    const c = this.client;
    c.on('state', (s) => this.onConnState(s));
    c.on('welcome', (w) => this.onWelcome(w));
    c.on('message', (m) => this.onMessage(m, true));
    c.on('history', (hist) => {
      for (const m of hist.messages) this.onMessage(m, false);
      this.sendRead();
    });
    c.on('ack', ({ entry, message }) => {
      if (!this.conversationId || this.conversationId !== message.conversation_id) {
        this.setConversation(message.conversation_id);
      }
      const row = this.rows.get('c:' + entry.client_msg_id);
      if (row) {
        row.seq = message.seq;
        this.rows.set('s:' + message.seq, row);
        this.setStatus(row, 'sent');
      } else {
        this.addRow(message, true, 'sent');
      }
      this.flushContact();
    });
    c.on('sendFailed', ({ entry, code }) => {
      const row = this.rows.get('c:' + entry.client_msg_id);
      if (row) this.setStatus(row, 'failed', entry.text);
      if (code === ErrorCode.TooLarge) this.flash(this.t.tooLong);
      if (entry.client_msg_id === this.contactNoteMsg) this.contactFailed(null, null);
    });
    c.on('sendRetry', ({ code }) => this.flash(code === ErrorCode.RateLimited ? this.t.rateLimited : this.t.storeDown));
    c.on('serverError', (e) => {
      if (e.ref === 'contact') return this.contactFailed(fieldOfServerError(e.message), e.message || null);
      if (e.ref === 'csat') return this.ratingFailed(e.code, e.message ?? '');
      // Transient errors without a ref are retried by the client; just tell the shopper.
      if (e.code === ErrorCode.RateLimited) this.flash(this.t.rateLimited);
      else if (e.code === ErrorCode.Unavailable) this.flash(this.t.storeDown);
    });
    c.on('authFailed', () => {
      if (this.storage.getItem(this.keys.token)) {
        // The token expired or is unknown (e.g. the server's secret changed): start afresh
        // as a new shopper, at once.
        this.storage.removeItem(this.keys.token);
        this.storage.removeItem(this.keys.conv);
        this.conversationId = null;
        this.client.reconnectNow();
        return;
      }
      // Even a fresh hello was refused: do not hammer the server; try again later.
      this.showStatus(this.t.reconnecting, true);
      setTimeout(() => this.client.reconnectNow(), 30000);
    });
    c.on('event', (ev) => this.onEvent(ev));
  }

  // ---- open/close -------------------------------------------------------------

  open(focus: boolean): void {
    this.isOpen = true;
    this.panel.hidden = false;
    this.launcher.setAttribute('aria-expanded', 'true');
    this.launcher.setAttribute('aria-label', this.t.closePanel);
    this.storage.setItem(this.keys.open, '1');
    this.unread = 0;
    this.renderBadge();
    this.scrollToEnd();
    this.sendRead();
    // What the store can promise now: on every opening, then every minute while open.
    this.refreshStoreInfo();
    if (this.storeInfoTimer) clearInterval(this.storeInfoTimer);
    this.storeInfoTimer = setInterval(() => this.refreshStoreInfo(), this.cfg.storeInfoEveryMs ?? 60000);
    // Focus now, not in a timer: a delayed focus() could yank the caret out of a field
    // the shopper (or a test) has already started typing in.
    if (focus) this.input.focus();
  }

  close(): void {
    this.isOpen = false;
    this.panel.hidden = true;
    this.launcher.setAttribute('aria-expanded', 'false');
    this.launcher.setAttribute('aria-label', this.t.openChat);
    this.storage.setItem(this.keys.open, '0');
    if (this.storeInfoTimer) clearInterval(this.storeInfoTimer);
    this.storeInfoTimer = null;
    this.launcher.focus();
  }

  /** GET /api/v1/stores/{id}/widget; a failed fetch keeps what was known. */
  private async refreshStoreInfo(): Promise<void> {
    const f = this.cfg.fetch ?? (typeof fetch === 'function' ? (fetch.bind(globalThis) as unknown as FetchLike) : null);
    if (!f) return;
    const seq = ++this.storeInfoSeq;
    const info = await fetchStoreInfo(this.cfg.server, this.cfg.store, f);
    if (seq !== this.storeInfoSeq || !info) return; // a newer fetch is under way, or nothing learnt
    this.storeInfo = info;
    this.offline = offlineOf(info);
    this.renderHeader();
    this.renderStatus();
  }

  // ---- protocol events --------------------------------------------------------

  private onConnState(s: ConnState): void {
    if (s === 'connected') {
      this.everConnected = true;
      this.renderStatus();
      return;
    }
    if (s === 'disconnected') {
      this.contactSentOn = null; // unanswered on that connection: sent again after the next welcome
      this.ratingSent = false; // likewise (a duplicate is refused as "already rated": then it was saved)
      if (this.everConnected) this.showStatus(this.t.reconnecting, true);
    }
  }

  private onWelcome(w: Welcome): void {
    // A contact or rating sent before this welcome may have gone to a cluster
    // leader that died (a welcome on an open connection): sent again below.
    this.contactSentOn = null;
    this.ratingSent = false;
    if (w.token) this.storage.setItem(this.keys.token, w.token);
    const convs = [...(w.conversations ?? [])].sort((a, b) => (a.created_ts ?? 0) - (b.created_ts ?? 0));
    let current = convs.find((c) => c.conversation_id === this.conversationId);
    if (!current && this.conversationId === null) {
      // Resume the latest open conversation; else show the latest closed one.
      current = [...convs].reverse().find((c) => c.state !== 'closed') ?? convs[convs.length - 1];
    }
    if (current) {
      if (current.conversation_id !== this.conversationId) this.setConversation(current.conversation_id);
      this.convState = current.state;
      this.client.follow(current.conversation_id);
    } else if (this.conversationId && !this.client.outbox.size) {
      // Our stored conversation is unknown to the server: forget it.
      this.setConversation(null);
    }
    this.restoreSavedContact();
    // v1.1 shopper welcome: the store's state; when it disagrees with what we know, ask.
    if (w.store && typeof w.store.open === 'boolean' && w.store.open !== (this.storeInfo?.open ?? true)) void this.refreshStoreInfo();
    this.renderHeader();
    this.renderStatus();
    this.flushContact();
    this.flushRating();
  }

  private setConversation(id: string | null): void {
    if (id === this.conversationId) return;
    this.conversationId = id;
    if (id) this.storage.setItem(this.keys.conv, id);
    else this.storage.removeItem(this.keys.conv);
    if (id) this.flushContact();
  }

  private onEvent(ev: ServerMessage | ContactSavedMsg | CsatSavedMsg): void {
    // A rating may be answered after the shopper has moved on to a new chat.
    if (ev.type === 'csat.saved') return this.onRatingSaved(ev.conversation_id);
    const convOf = (ev as { conversation_id?: string }).conversation_id;
    if (convOf && this.conversationId && convOf !== this.conversationId) return;
    switch (ev.type) {
      case 'conversation.queued':
        this.convState = 'queued';
        this.queue = { position: ev.position, wait: ev.estimated_wait_s };
        // v1.1: nobody can answer now (outside hours, or nobody of the store online).
        if (typeof ev.offline === 'boolean') {
          this.offline = ev.offline
            ? { reason: ev.offline_reason === 'no_agents' ? 'no_agents' : 'closed', next_open_ts: ev.next_open_ts ?? this.offline?.next_open_ts ?? this.storeInfo?.next_open_ts ?? null }
            : null;
        }
        if (!this.conversationId) this.setConversation(ev.conversation_id);
        break;
      case 'contact.saved':
        this.onContactSaved(ev.conversation_id);
        return;
      case 'conversation.assigned':
        if (!this.conversationId) this.setConversation(ev.conversation_id);
        this.convState = 'assigned';
        this.queue = null;
        this.agentName = ev.agent?.name || null;
        break;
      case 'conversation.closed': {
        // The composer is about to go: if the shopper was in it, take them to the rating.
        const active = this.root.activeElement;
        const wasComposing = !!active && this.composer.contains(active);
        this.convState = 'closed';
        this.queue = null;
        this.showTyping(false);
        this.renderHeader();
        this.renderStatus();
        if (wasComposing) this.focusRating();
        this.scrollToEnd();
        return;
      }
      case 'typing':
        if (ev.from?.role !== 'shopper' && ev.from?.id !== this.client.userId) this.showTyping(ev.state, ev.from?.name);
        return;
      case 'read':
        if (ev.from?.id !== this.client.userId) this.markRead(ev.seq);
        return;
      default:
        return; // anger.*, escalation.*, queue.* are never for the shopper
    }
    this.renderHeader();
    this.renderStatus();
  }

  private onMessage(m: ChatMessage, live: boolean): void {
    if (m.visibility === 'staff') return;
    if (this.conversationId && m.conversation_id !== this.conversationId) return;
    if (!this.conversationId) this.setConversation(m.conversation_id);
    const mine = m.from?.role === 'shopper' || m.from?.id === this.client.userId;
    if (!mine) {
      this.lastOtherSeq = Math.max(this.lastOtherSeq, m.seq);
      if (m.from?.name && m.from.role === 'agent' && !this.agentName) this.agentName = m.from.name;
      this.showTyping(false);
    }
    this.addRow(m, mine, mine ? 'sent' : undefined);
    if (live && !mine) {
      if (this.isOpen && document.visibilityState !== 'hidden') this.sendRead();
      else {
        this.unread++;
        this.renderBadge();
      }
    }
    this.renderHeader();
  }

  // ---- rendering --------------------------------------------------------------

  private addRow(m: ChatMessage, mine: boolean, status?: MsgStatus, key?: string): Row {
    const k = key ?? 's:' + m.seq;
    const existing = this.rows.get(k);
    if (existing) return existing;
    const role = m.from?.role;
    const who = mine ? null : h('div', { class: 'who' }, m.from?.name || (role === 'supervisor' ? 'Supervisor' : this.agentName || this.t.agentFallback));
    const meta = h('div', { class: 'meta' });
    const el = h(
      'div',
      { class: `row ${mine ? 'me' : 'them'}`, 'data-seq': m.seq || null, 'data-testid': mine ? 'msg-me' : 'msg-them' },
      who,
      h('div', { class: 'bubble' }, m.text),
      meta,
    );
    const row: Row = { el, meta, seq: m.seq || undefined, mine };
    this.rows.set(k, row);
    if (m.client_msg_id && mine) this.rows.set('c:' + m.client_msg_id, row);
    // Keep seq order even when history arrives after live messages.
    let before: Element | null = null;
    if (m.seq) {
      for (const child of Array.from(this.log.children)) {
        const s = Number((child as HTMLElement).dataset.seq || 0);
        if (s && s > m.seq) {
          before = child;
          break;
        }
      }
    }
    this.log.insertBefore(el, before);
    this.fillMeta(row, m.ts, status);
    this.scrollToEnd();
    return row;
  }

  private fillMeta(row: Row, ts: number, status?: MsgStatus): void {
    row.status = status;
    row.meta.dataset.ts = String(ts);
    this.renderMeta(row);
  }

  private renderMeta(row: Row, failedText?: string): void {
    const t = this.t;
    clear(row.meta);
    row.meta.className = 'meta' + (row.status === 'failed' ? ' failed' : '');
    row.el.classList.toggle('pending', row.status === 'pending');
    row.el.dataset.status = row.status ?? '';
    const ts = Number(row.meta.dataset.ts || Date.now());
    row.meta.append(fmtTime(ts, this.cfg.lang));
    if (!row.mine || !row.status) return;
    const label = { pending: t.pending, sent: t.sent, read: t.read, failed: t.failed }[row.status];
    row.meta.append(' · ');
    if (row.status === 'sent' || row.status === 'read') row.meta.append(icon(ICONS.check, 12));
    row.meta.append(h('span', { class: 'state' }, label));
    if (row.status === 'failed' && failedText !== undefined) {
      const retry = h('button', { class: 'retry', type: 'button' }, t.retry);
      retry.addEventListener('click', () => {
        row.el.remove();
        this.sendText(failedText);
      });
      row.meta.append(' ', retry);
    }
  }

  private setStatus(row: Row, status: MsgStatus, failedText?: string): void {
    row.status = status;
    this.renderMeta(row, failedText);
  }

  private markRead(seq: number): void {
    for (const row of new Set(this.rows.values())) {
      if (row.mine && row.seq && row.seq <= seq && row.status === 'sent') this.setStatus(row, 'read');
    }
  }

  private renderHeader(): void {
    const t = this.t;
    clear(this.headAvatar);
    if (this.convState === 'assigned' && this.agentName) {
      this.headAvatar.append(initials(this.agentName));
      this.headTitle.textContent = this.agentName;
      this.headSub.textContent = t.title;
      this.headSub.title = t.assigned(this.agentName);
    } else {
      this.headAvatar.append(icon(ICONS.chat, 20));
      this.headTitle.textContent = this.storeInfo?.name || t.title;
      const avail = this.availability();
      this.headSub.textContent = avail && avail.kind !== 'open' ? avail.short : this.convState === 'queued' ? t.waiting : t.subtitleIdle;
      this.headSub.title = '';
    }
    const closed = this.convState === 'closed';
    this.closedEl.hidden = !closed;
    this.composer.hidden = closed;
    this.endBtn.hidden = closed || !this.conversationId;
    this.nameField.hidden = !!this.conversationId || !!this.storage.getItem(this.keys.token);
    this.renderAvailability();
    this.renderOffline();
    this.renderRating();
  }

  /** The opening state to tell the shopper: the store info, else what the queued frame said. */
  private availability(): ReturnType<typeof describeAvailability> | null {
    let info = this.storeInfo;
    if (this.offline && (!info || info.open)) {
      // The queued frame is newer than the store info (or there is none).
      info = {
        id: this.cfg.store,
        name: info?.name ?? '',
        languages: info?.languages ?? [],
        hours: info?.hours ?? null,
        open: false,
        in_hours: this.offline.reason === 'no_agents',
        next_open_ts: this.offline.next_open_ts,
      };
    } else if (!this.offline && info && !info.open && this.convState === 'queued') {
      info = { ...info, open: true }; // queued with offline: false, after the last fetch
    }
    return info ? describeAvailability(info, this.t, this.locale) : null;
  }

  private renderAvailability(): void {
    const avail = this.availability();
    const hours = this.storeInfo?.hours ?? null;
    // Once an agent has it, or while an online queue shows its own estimate, say nothing.
    const busy = this.convState === 'assigned' || this.convState === 'closed' || (this.convState === 'queued' && !this.offline);
    if (!avail || busy || (avail.kind === 'open' && !hours)) {
      this.avail.hidden = true;
      return;
    }
    this.avail.hidden = false;
    this.avail.className = 'avail' + (avail.kind === 'open' ? '' : ' warn');
    this.avail.dataset.kind = avail.kind;
    // Open: the subtitle already says how fast we answer; here only until when.
    const text = avail.kind === 'open' ? (avail.until ?? '') : avail.text;
    this.availText.textContent = text;
    this.availText.hidden = !text;
    this.renderHours(hours);
  }

  private renderHours(hours: StoreWidgetInfo['hours']): void {
    const el = this.hoursEl;
    // Rebuilt only when the hours or the day change (keeps focus and the open state).
    const key = hours ? JSON.stringify(hours) + new Date().toDateString() : '';
    if (el.dataset.key === key) return;
    el.dataset.key = key;
    const wasOpen = el.open;
    clear(el);
    el.hidden = !hours;
    if (!hours) return;
    el.append(h('summary', { 'data-testid': 'hours-toggle' }, this.t.hoursTitle));
    const rows = weeklyRows(hours, this.t, this.locale);
    if (!rows.some((r) => r.open)) el.append(h('p', { class: 'hours-none' }, this.t.hoursNone));
    else {
      const list = h('dl', { class: 'hours-list' });
      for (const r of rows) {
        const cls = [r.today ? 'today' : '', r.open ? '' : 'shut'].filter(Boolean).join(' ');
        list.append(h('div', { class: cls || undefined, 'data-day': r.day }, h('dt', {}, r.label), h('dd', {}, r.ranges)));
      }
      el.append(list);
    }
    const holidays = upcomingClosedDates(hours, this.locale);
    if (holidays.length) el.append(h('p', { class: 'hours-tz', 'data-testid': 'closed-dates' }, this.t.hoursClosedDates(holidays.join(', '))));
    el.append(h('p', { class: 'hours-tz' }, this.t.hoursTz(hours.tz)));
    el.open = wasOpen;
  }

  // ---- offline contact form ---------------------------------------------------

  private renderOffline(): void {
    const t = this.t;
    const talking = this.convState === 'assigned' || this.convState === 'closed';
    const saved = this.contactState === 'saved' && !!this.savedContact;
    const filled = Object.values(this.contactFields).some((f) => f.value.trim() !== '');
    const nobody = (this.availability()?.kind ?? 'open') !== 'open';
    // Shown while nobody can answer; kept while in use even if someone comes online.
    const show = !talking && (nobody || saved || this.contactState === 'sending' || filled);
    this.offlineEl.hidden = !show;
    if (!show) return;
    const thanks = saved && !this.contactEditing;
    this.contactForm.hidden = thanks;
    this.contactThanks.hidden = !thanks;
    if (thanks && this.savedContact) {
      clear(this.contactThanks);
      const change = h('button', { class: 'link-btn', type: 'button', 'data-testid': 'contact-change' }, t.contactChange);
      change.addEventListener('click', () => {
        this.contactEditing = true;
        this.renderOffline();
        this.contactFields.email.focus();
      });
      this.contactThanks.append(
        h('strong', {}, t.contactThanks(this.savedContact.email, this.savedContact.phone)),
        h('span', {}, t.contactThanksMore),
        change,
      );
    }
    const needNote = this.needsNote();
    this.noteLabel.textContent = needNote ? t.noteLabelRequired : t.noteLabel;
    if (needNote) this.contactFields.note.setAttribute('aria-required', 'true');
    else this.contactFields.note.removeAttribute('aria-required');
    const sending = this.contactState === 'sending';
    this.contactSubmit.disabled = sending;
    this.contactSubmit.textContent = sending ? t.contactSending : t.contactSubmit;
  }

  /** No conversation yet (and none about to be opened): the note becomes the first message. */
  private needsNote(): boolean {
    return !this.conversationId && this.client.outbox.size === 0;
  }

  private setFieldError(field: ContactField | 'form', text: string | null, key?: string): void {
    const el = this.contactErrs[field];
    el.textContent = text ?? '';
    el.hidden = !text;
    el.dataset.key = key ?? '';
    if (field !== 'form') {
      const input = this.contactFields[field];
      if (text) input.setAttribute('aria-invalid', 'true');
      else input.removeAttribute('aria-invalid');
    }
  }

  private submitContact(): void {
    if (this.contactState === 'sending') return;
    const v = { email: this.contactFields.email.value.trim(), phone: this.contactFields.phone.value.trim(), note: this.contactFields.note.value.trim() };
    const needNote = this.needsNote();
    const errs: ContactErrors = validateContact(v, needNote);
    for (const f of ['email', 'phone', 'note', 'form'] as const) this.setFieldError(f, null);
    let first: ContactField | null = null;
    for (const f of ['email', 'phone', 'note'] as ContactField[]) {
      const key = errs[f];
      if (!key) continue;
      this.setFieldError(f, this.t[key], key);
      first ??= f;
    }
    if (first) {
      this.contactFields[first].focus();
      return;
    }
    this.pendingContact = {};
    if (v.email) this.pendingContact.email = v.email;
    if (v.phone) this.pendingContact.phone = v.phone;
    if (v.note) this.pendingContact.note = v.note;
    this.contactState = 'sending';
    this.contactSentOn = null;
    if (needNote) {
      // There is no conversation to attach the contact to: the note opens it first,
      // as the shopper's own message; the contact follows its ack (see flushContact).
      this.contactNoteMsg = this.sendText(v.note);
    }
    this.renderOffline();
    this.flushContact();
    if (this.contactTimer) clearTimeout(this.contactTimer);
    this.contactTimer = setTimeout(() => {
      if (this.contactState === 'sending') this.contactFailed(null, null);
    }, CONTACT_TIMEOUT_MS + (needNote ? CONTACT_TIMEOUT_MS : 0));
  }

  /** Send the pending contact once there is a conversation and a live connection. */
  private flushContact(): void {
    const pc = this.pendingContact;
    const conv = this.conversationId;
    if (!pc || !conv || this.contactState !== 'sending' || this.contactSentOn === conv) return;
    if (this.contactNoteMsg && this.client.outbox.get(this.contactNoteMsg)) return; // its ack first
    const frame: ContactFrame = { type: 'contact', conversation_id: conv, ...pc };
    if (this.client.sendFrame(frame as unknown as { type: string })) this.contactSentOn = conv;
    if (this.client.state === 'disconnected') this.client.connect();
  }

  private onContactSaved(conversationId: string): void {
    if (this.contactState !== 'sending' || !this.pendingContact) return;
    if (this.contactTimer) clearTimeout(this.contactTimer);
    this.savedContact = { email: this.pendingContact.email ?? null, phone: this.pendingContact.phone ?? null };
    this.storage.setItem(this.keys.contact, JSON.stringify({ conversation_id: conversationId, ...this.savedContact }));
    this.pendingContact = null;
    this.contactNoteMsg = null;
    this.contactState = 'saved';
    this.contactEditing = false;
    this.contactFields.note.value = '';
    this.renderOffline();
  }

  private contactFailed(field: ContactField | null, message: string | null): void {
    if (this.contactState !== 'sending') return;
    if (this.contactTimer) clearTimeout(this.contactTimer);
    this.contactState = this.savedContact ? 'saved' : 'idle';
    this.contactEditing = true;
    this.pendingContact = null;
    this.contactSentOn = null;
    this.contactNoteMsg = null;
    this.renderOffline();
    const text = message || this.t.errContactSend;
    this.setFieldError(field ?? 'form', text);
    if (field) this.contactFields[field].focus();
  }

  /** After a reload: the thank-you stays for the conversation it was left in. */
  private restoreSavedContact(): void {
    if (this.savedContact || !this.conversationId) return;
    try {
      const v = JSON.parse(this.storage.getItem(this.keys.contact) ?? 'null') as { conversation_id?: string; email?: string | null; phone?: string | null } | null;
      if (v && v.conversation_id === this.conversationId) {
        this.savedContact = { email: v.email ?? null, phone: v.phone ?? null };
        this.contactState = 'saved';
        if (v.email) this.contactFields.email.value = v.email;
        if (v.phone) this.contactFields.phone.value = v.phone;
      }
    } catch {
      /* ignore */
    }
  }

  private resetContact(): void {
    if (this.contactTimer) clearTimeout(this.contactTimer);
    this.contactState = 'idle';
    this.pendingContact = null;
    this.contactSentOn = null;
    this.contactNoteMsg = null;
    this.savedContact = null;
    this.contactEditing = false;
    for (const f of Object.values(this.contactFields)) f.value = '';
    for (const f of ['email', 'phone', 'note', 'form'] as const) this.setFieldError(f, null);
    this.storage.removeItem(this.keys.contact);
  }

  // ---- rating (CSAT) -----------------------------------------------------------

  private ratedIds(): string[] {
    try {
      const v = JSON.parse(this.storage.getItem(this.keys.rated) ?? '[]');
      return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
    } catch {
      return [];
    }
  }

  private isRated(conv: string): boolean {
    return this.ratedIds().includes(conv);
  }

  private markRated(conv: string): void {
    const ids = this.ratedIds().filter((x) => x !== conv);
    ids.push(conv);
    this.storage.setItem(this.keys.rated, JSON.stringify(ids.slice(-RATED_KEEP)));
  }

  private renderRating(): void {
    const t = this.t;
    const conv = this.conversationId;
    if (this.convState !== 'closed' || !conv) {
      this.ratingEl.hidden = true;
      return;
    }
    if (this.ratingConv !== conv) {
      // Another conversation: start afresh (or thank again, if this one was rated before a reload).
      this.ratingConv = conv;
      this.ratingScore = null;
      this.ratingState = this.isRated(conv) ? 'done' : 'choosing';
      this.ratingComment.value = '';
      this.setRatingError(null);
    }
    const state = this.ratingState;
    const done = state === 'done';
    const sending = state === 'sending';
    this.ratingEl.hidden = false;
    this.ratingEl.dataset.state = state;
    this.ratingAsk.hidden = done;
    this.ratingMore.hidden = done || this.ratingScore === null;
    const focusable = this.ratingScore ?? 1;
    for (const b of this.ratingOpts) {
      const n = Number(b.dataset.score);
      b.setAttribute('aria-checked', String(n === this.ratingScore));
      b.tabIndex = n === focusable ? 0 : -1;
      if (sending) b.setAttribute('aria-disabled', 'true');
      else b.removeAttribute('aria-disabled');
    }
    this.ratingComment.readOnly = sending;
    this.ratingSendBtn.disabled = sending;
    this.ratingSkipBtn.disabled = sending;
    this.ratingSendBtn.textContent = sending ? t.ratingSending : t.ratingSend;
    if (done && !this.ratingThanks.firstChild) {
      this.ratingThanks.append(h('strong', {}, t.ratingThanks), h('span', {}, t.ratingThanksMore));
    } else if (!done) clear(this.ratingThanks);
  }

  /** Focus the score that takes the Tab stop (the chosen one, else 1). */
  private focusRating(): void {
    if (this.ratingEl.hidden) return;
    if (this.ratingState === 'done') return this.ratingThanks.focus();
    (this.ratingOpts.find((b) => b.tabIndex === 0) ?? this.ratingOpts[0]).focus();
  }

  private onRatingKey(e: KeyboardEvent, n: number): void {
    let next: number;
    switch (e.key) {
      case 'ArrowRight':
      case 'ArrowDown':
        next = (n % 5) + 1;
        break;
      case 'ArrowLeft':
      case 'ArrowUp':
        next = ((n + 3) % 5) + 1;
        break;
      case 'Home':
        next = 1;
        break;
      case 'End':
        next = 5;
        break;
      case 'Enter':
      case ' ':
        next = n;
        break;
      default:
        return;
    }
    e.preventDefault();
    this.chooseScore(next, true);
  }

  private chooseScore(n: number, focus: boolean): void {
    if (this.ratingState === 'sending' || this.ratingState === 'done') return;
    const first = this.ratingScore === null;
    this.ratingScore = n;
    if (this.ratingState === 'error') this.ratingState = 'choosing';
    this.setRatingError(null);
    this.renderRating();
    if (focus) this.ratingOpts[n - 1].focus();
    // The comment box just appeared under the scores: bring it into view.
    if (first) this.ratingMore.scrollIntoView?.({ block: 'nearest' });
  }

  private setRatingError(text: string | null, detail?: string): void {
    clear(this.ratingError);
    if (text) this.ratingError.append(h('strong', {}, text));
    if (text && detail) this.ratingError.append(h('span', { class: 'detail' }, detail));
    if (text) this.ratingComment.setAttribute('aria-invalid', 'true');
    else this.ratingComment.removeAttribute('aria-invalid');
  }

  /** Send the one rating: the chosen score, with the comment (Send) or without (Skip comment). */
  private sendRating(withComment: boolean): void {
    const conv = this.ratingConv;
    if (!conv || conv !== this.conversationId || this.ratingScore === null) return;
    if (this.ratingState === 'sending' || this.ratingState === 'done') return;
    const comment = withComment ? this.ratingComment.value.trim() : '';
    if (utf8Length(comment) > MAX_RATING_COMMENT_BYTES) {
      this.setRatingError(this.t.ratingCommentLong);
      this.ratingComment.focus();
      return;
    }
    const frame: CsatFrame = { type: 'csat', conversation_id: conv, score: this.ratingScore };
    if (comment) frame.comment = comment;
    this.ratingPending = frame;
    this.ratingSent = false;
    this.ratingState = 'sending';
    this.setRatingError(null);
    this.renderRating();
    this.flushRating();
    if (this.ratingTimer) clearTimeout(this.ratingTimer);
    this.ratingTimer = setTimeout(() => {
      if (this.ratingPending === frame) this.ratingFailed('timeout', '');
    }, RATING_TIMEOUT_MS);
  }

  /** Send the pending rating once connected (again after a reconnect: the server keeps one). */
  private flushRating(): void {
    const f = this.ratingPending;
    if (!f || this.ratingSent) return;
    if (this.client.sendFrame(f as unknown as { type: string })) this.ratingSent = true;
    else if (this.client.state === 'disconnected') this.client.connect();
  }

  private onRatingSaved(conv: string): void {
    this.markRated(conv);
    if (this.ratingPending?.conversation_id === conv) {
      this.ratingPending = null;
      this.ratingSent = false;
      if (this.ratingTimer) clearTimeout(this.ratingTimer);
      this.ratingTimer = null;
    }
    if (this.ratingConv !== conv) return;
    const active = this.root.activeElement;
    const hadFocus = !!active && this.ratingEl.contains(active);
    this.ratingState = 'done';
    this.setRatingError(null);
    this.renderRating();
    if (hadFocus) this.ratingThanks.focus();
  }

  /** An `error` with ref "csat", or no answer in time: say so, keep the choice for a retry. */
  private ratingFailed(code: string, message: string): void {
    const f = this.ratingPending;
    if (!f) return;
    // Rated already (a resend after a reconnect, another tab, another device): that is done.
    if (code === ErrorCode.BadRequest && /already rated/i.test(message)) return this.onRatingSaved(f.conversation_id);
    this.ratingPending = null;
    this.ratingSent = false;
    if (this.ratingTimer) clearTimeout(this.ratingTimer);
    this.ratingTimer = null;
    if (this.ratingConv !== f.conversation_id || this.ratingState !== 'sending') return;
    this.ratingState = 'error';
    this.renderRating();
    // Our own words in the shopper's language, and the server's reason under them.
    this.setRatingError(this.t.ratingError, message || undefined);
  }

  private renderStatus(): void {
    const t = this.t;
    if (this.client.state !== 'connected' && this.everConnected) return this.showStatus(t.reconnecting, true);
    if (this.convState === 'queued' && this.queue && !this.offline) {
      const mins = Math.ceil((this.queue.wait || 0) / 60);
      const wait = this.queue.wait < 60 ? t.waitLessMinute : t.waitMinutes(mins);
      clear(this.status);
      this.status.append(icon(ICONS.clock, 18), h('div', { class: 'stack' }, h('strong', {}, t.queued(this.queue.position)), h('span', {}, wait)));
      this.status.className = 'status';
      this.status.hidden = false;
      return;
    }
    this.status.hidden = true;
  }

  private showStatus(text: string, warn: boolean): void {
    clear(this.status);
    this.status.append(text);
    this.status.className = 'status' + (warn ? ' warn' : '');
    this.status.hidden = false;
  }

  private flash(text: string): void {
    this.showStatus(text, true);
    setTimeout(() => this.renderStatus(), 4000);
  }

  private showTyping(on: boolean, name?: string): void {
    if (this.typingTimer) clearTimeout(this.typingTimer);
    clear(this.typingEl);
    if (!on) return;
    const dots = h('span', { class: 'dots', 'aria-hidden': 'true' }, h('span'), h('span'), h('span'));
    this.typingEl.append(dots, this.t.typing(name || this.agentName || this.t.agentFallback));
    // Never leave a stale indicator if the "stopped typing" frame is lost.
    this.typingTimer = setTimeout(() => clear(this.typingEl), 8000);
  }

  private renderBadge(): void {
    this.badge.hidden = this.unread === 0;
    this.badge.textContent = this.unread > 9 ? '9+' : String(this.unread);
    this.launcher.setAttribute('aria-label', this.unread ? `${this.t.openChat} (${this.t.unread(this.unread)})` : this.isOpen ? this.t.closePanel : this.t.openChat);
  }

  private scrollToEnd(): void {
    const sc = this.scroller;
    const bottom = sc.scrollHeight - sc.clientHeight;
    // With the offline form under the chat: the last messages in the upper half, the
    // beginning of the form in the lower half.
    sc.scrollTop = this.offlineEl.hidden ? bottom : Math.max(0, Math.min(bottom, this.offlineEl.offsetTop - sc.clientHeight / 2));
  }

  private autosize(): void {
    this.input.style.height = 'auto';
    this.input.style.height = Math.min(120, this.input.scrollHeight + 2) + 'px';
  }

  // ---- actions ----------------------------------------------------------------

  private submit(): void {
    const text = this.input.value.trim();
    if (!text) return;
    if (utf8Length(text) > MAX_TEXT_BYTES) {
      this.flash(this.t.tooLong);
      return;
    }
    const name = this.nameInput.value.trim();
    if (name && !this.storage.getItem(this.keys.token)) this.storage.setItem(this.keys.name, name);
    this.input.value = '';
    this.sendBtn.disabled = true;
    this.autosize();
    this.stopTyping();
    this.sendText(text);
    this.input.focus();
  }

  private sendText(text: string): string {
    const entry = this.client.send(text, this.conversationId ?? undefined);
    this.addRow(
      { conversation_id: this.conversationId ?? '', seq: 0, ts: entry.created_ts, from: { id: this.client.userId ?? '', role: 'shopper' }, text, client_msg_id: entry.client_msg_id },
      true,
      'pending',
      'c:' + entry.client_msg_id,
    );
    if (this.client.state === 'disconnected' && !this.everConnected) this.client.connect();
    this.renderHeader();
    return entry.client_msg_id;
  }

  private onTypingInput(): void {
    if (!this.conversationId || this.convState === 'closed') return;
    const now = Date.now();
    if (now - this.typingSentAt > 3000) {
      this.typingSentAt = now;
      this.client.sendFrame({ type: 'typing', conversation_id: this.conversationId, state: true });
    }
    if (this.typingStopTimer) clearTimeout(this.typingStopTimer);
    this.typingStopTimer = setTimeout(() => this.stopTyping(), 4000);
  }

  private stopTyping(): void {
    if (this.typingStopTimer) clearTimeout(this.typingStopTimer);
    this.typingStopTimer = null;
    if (this.typingSentAt && this.conversationId) {
      this.client.sendFrame({ type: 'typing', conversation_id: this.conversationId, state: false });
    }
    this.typingSentAt = 0;
  }

  private sendRead(): void {
    if (!this.isOpen || !this.conversationId || this.lastOtherSeq <= this.lastReadSent) return;
    if (this.client.sendFrame({ type: 'read', conversation_id: this.conversationId, seq: this.lastOtherSeq })) {
      this.lastReadSent = this.lastOtherSeq;
    }
  }

  private endChat(): void {
    if (!this.conversationId) return;
    this.client.sendFrame({ type: 'conversation.close', conversation_id: this.conversationId, reason: 'shopper_ended' });
  }

  private newChat(): void {
    if (this.conversationId) this.client.unfollow(this.conversationId);
    this.setConversation(null);
    this.convState = null;
    this.agentName = null;
    this.queue = null;
    this.lastOtherSeq = this.lastReadSent = 0;
    this.offline = this.storeInfo ? offlineOf(this.storeInfo) : null;
    this.resetContact();
    this.renderGreeting();
    this.renderHeader();
    this.renderStatus();
    this.input.focus();
  }
}

function offlineOf(info: StoreWidgetInfo): { reason: 'closed' | 'no_agents'; next_open_ts: number | null } | null {
  if (info.open) return null;
  return { reason: availabilityKind(info) === 'closed' ? 'closed' : 'no_agents', next_open_ts: info.next_open_ts ?? null };
}

/** The server's limit on `text` (bytes of UTF-8, not characters). */
export const MAX_TEXT_BYTES = 4000;

export function utf8Length(s: string): number {
  return new TextEncoder().encode(s).length;
}

function isLocale(tag: string): boolean {
  try {
    return Intl.DateTimeFormat.supportedLocalesOf([tag]).length > 0;
  } catch {
    return false;
  }
}

/** Read the configuration from the <script> tag that loaded us (data-context parsed once, here). */
export function configFromScript(script: HTMLScriptElement | null): WidgetConfig {
  const src = script?.src || location.href;
  const ds = script?.dataset ?? {};
  let server = ds.server || new URL(src, location.href).origin;
  if (!/^https?:/.test(server)) server = location.origin;
  const browser = typeof navigator !== 'undefined' ? navigator.languages ?? [navigator.language] : [];
  const lang = pickLang(ds.lang, browser);
  const browserLang = browser.length ? pickLang(null, browser.slice(0, 1)) : null;
  const sameLang = browserLang === lang && !!browser[0]?.toLowerCase().startsWith(lang);
  return {
    store: ds.store || 'demo',
    lang,
    server,
    shopperLanguage: sameLang ? lang : undefined,
    // Dates in the shopper's own variant of the language (en-GB: 24 h), else the language.
    locale: sameLang && isLocale(browser[0]) ? browser[0] : lang,
    context: parseContext(ds.context),
  };
}
