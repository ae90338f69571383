/**
 * The conversation on screen: its header (shopper, store, order context and VIP badge,
 * state, actions: transfer, close with "needs follow-up", join modes, take over), the
 * agent-alert banner, the transcript, the typing line and the reply box.
 */
import type { AgentRow, ChatMessage, JoinMode } from '../../protocol/types';
import { ICONS, clear, fmtTime, h, icon, initials } from '../../shared/dom';
import { CAUSES } from '../causes';
import { languageName } from '../format';
import { locale, t } from '../i18n';
import type { ConvVM } from '../model';
import { ComposerView, type ComposerHooks } from './composer';
import type { Ctx } from './ctx';
import { contextChips, goneText, swapIfChanged } from './util';

export class ChatView {
  readonly el: HTMLElement;
  readonly composer: ComposerView;
  private head: HTMLElement;
  private alertBar: HTMLElement;
  private transcript: HTMLElement;
  private typingLine: HTMLElement;
  private stickToBottom = true;
  private lastConv: string | null = null;
  /** conversations whose "needs follow-up" box is ticked (kept across re-renders) */
  private followUp = new Set<string>();
  /** the causes editor, open for one conversation, with what is ticked (kept across re-renders) */
  private causesEdit: { conv: string; picked: Set<string> } | null = null;
  /** the transfer list has focus: its options stay as shown (see transferControl) */
  private transferOpen = false;
  private shownTargets: AgentRow[] | null = null;

  constructor(
    private ctx: Ctx,
    hooks: ComposerHooks,
  ) {
    const s = t();
    this.head = h('div', { class: 'pane-head' });
    this.alertBar = h('div', { class: 'alert-bar', role: 'alert', hidden: true, 'data-testid': 'agent-alert' });
    this.transcript = h('div', { class: 'transcript', role: 'log', 'aria-live': 'polite', 'aria-label': s.transcript, 'data-testid': 'transcript' });
    this.transcript.addEventListener('scroll', () => {
      const tr = this.transcript;
      this.stickToBottom = tr.scrollHeight - tr.scrollTop - tr.clientHeight < 40;
    });
    this.typingLine = h('div', { class: 'typing-line', 'data-testid': 'shopper-typing' });
    this.composer = new ComposerView(hooks);
    this.el = h('main', { class: 'pane', 'data-testid': 'pane' }, this.head, this.alertBar, this.transcript, this.typingLine, this.composer.el);
  }

  /** After the user picks a conversation or sends: follow the newest message. */
  scrollToEnd(): void {
    this.stickToBottom = true;
  }

  renderTyping(c: ConvVM | undefined, now: number): void {
    this.typingLine.textContent = c?.typing && c.typing.until > now ? t().typing(c.typing.name) : '';
  }

  render(now: number): void {
    const { ctx } = this;
    const s = t();
    const c = ctx.selected ? ctx.model.convs.get(ctx.selected) : undefined;
    const { input, sendBtn, note } = this.composer;
    this.composer.render(c ?? null);
    if (!c) {
      clear(this.head);
      this.alertBar.hidden = true;
      clear(this.transcript);
      this.transcript.append(h('div', { class: 'placeholder' }, h('div', { class: 'placeholder-icon', 'aria-hidden': 'true' }, icon(ICONS.chat, 44)), h('p', {}, s.selectConversation)));
      this.typingLine.textContent = '';
      note.textContent = '';
      input.disabled = sendBtn.disabled = true;
      this.lastConv = null;
      return;
    }
    swapIfChanged(this.head, (head) => this.buildHead(head, c));
    const switched = this.lastConv !== c.id;
    this.lastConv = c.id;
    const msgs = ctx.model.sortedMessages(c);
    const changed = swapIfChanged(this.transcript, (tr) => this.buildTranscript(tr, c, msgs));
    if (changed && (switched || this.stickToBottom)) this.transcript.scrollTop = this.transcript.scrollHeight;
    this.renderComposer(c, now);
  }

  private buildHead(head: HTMLElement, c: ConvVM): void {
    const { ctx } = this;
    const s = t();
    const me = ctx.session.user_id;
    const owner = c.agentId === me;
    const actions = h('div', { class: 'actions', 'data-conv': c.id });
    if (c.state !== 'closed' && !c.gone && (owner || ctx.isSupervisor)) {
      const fu = h('input', { type: 'checkbox', 'data-testid': 'close-followup', checked: this.followUp.has(c.id) });
      fu.addEventListener('change', () => {
        if (fu.checked) this.followUp.add(c.id);
        else this.followUp.delete(c.id);
        fu.toggleAttribute('checked', fu.checked);
      });
      const fuLabel = h('label', { class: 'fu-check', title: s.needsFollowUpHint }, fu, s.needsFollowUp);
      const closeBtn = h('button', { class: 'btn', type: 'button', 'data-testid': 'close-conv' }, s.close);
      closeBtn.addEventListener('click', () => {
        const followUp = this.followUp.has(c.id);
        const frame: { type: string; [k: string]: unknown } = { type: 'conversation.close', conversation_id: c.id, reason: 'resolved' };
        if (followUp) frame.follow_up = true;
        if (ctx.act(frame, followUp ? s.closedForFollowUp : undefined)) this.followUp.delete(c.id);
      });
      actions.append(this.transferControl(c), h('span', { class: 'close-group' }, fuLabel, closeBtn));
    }
    if (ctx.isSupervisor && c.state !== 'closed') {
      const group = h('div', { class: 'seg', role: 'group', 'aria-label': s.joinConversation });
      const names: Record<JoinMode, string> = { monitor: s.modeMonitor, whisper: s.modeWhisper, barge: s.modeBarge };
      for (const mode of ['monitor', 'whisper', 'barge'] as JoinMode[]) {
        const b = h('button', { class: 'btn seg-btn' + (c.joined === mode ? ' on' : ''), type: 'button', 'aria-pressed': String(c.joined === mode), 'data-testid': `join-${mode}` }, names[mode]);
        b.addEventListener('click', () => ctx.act({ type: 'conversation.join', conversation_id: c.id, mode }));
        group.append(b);
      }
      actions.prepend(group);
      if (!owner) {
        const take = h('button', { class: 'btn warn', type: 'button', 'data-testid': 'takeover' }, s.takeOver);
        take.addEventListener('click', () => ctx.act({ type: 'conversation.takeover', conversation_id: c.id }));
        actions.append(take);
      }
    }
    const modeName = c.joined ? { monitor: s.modeMonitor, whisper: s.modeWhisper, barge: s.modeBarge }[c.joined] : '';
    const closedDetail = this.closedDetail(c);
    head.append(
      h('span', { class: 'avatar lg' }, initials(ctx.shopperName(c))),
      h(
        'div',
        { class: 'pane-title' },
        h('h2', { 'data-testid': 'pane-title' }, ctx.shopperName(c)),
        contextChips(c.shopper, ctx.storeName(c.store)),
        this.causesRow(c),
        this.causesEditor(c),
        h(
          'div',
          { class: 'muted small' },
          [
            c.state === 'closed'
              ? s.closedState(closedDetail)
              : c.state === 'queued'
                ? s.queuedIn(c.queue ?? '')
                : owner
                  ? s.assignedToYou
                  : s.assignedTo(c.agentName || c.agentId || '—'),
            c.shopper?.language ? s.languageOf(languageName(c.shopper.language, locale())) : '',
            modeName ? s.youJoined(modeName) : '',
            s.startedAt(fmtTime(c.createdTs, locale())),
          ]
            .filter(Boolean)
            .join(' · '),
        ),
      ),
      actions,
    );
  }

  /** Staff who may correct the causes: the conversation's agent, or a supervisor. */
  private canEditCauses(c: ConvVM): boolean {
    return this.ctx.isSupervisor || c.agentId === this.ctx.session.user_id;
  }

  /** The causes as chips (translated), the "corrected" mark, and the button that opens the editor. */
  private causesRow(c: ConvVM): HTMLElement | null {
    const s = t();
    if (c.causes === undefined && !this.canEditCauses(c)) return null;
    const row = h('div', { class: 'causes-row', 'data-testid': 'causes' }, h('span', { class: 'causes-label' }, s.causes + ':'));
    const list = c.causes ?? [];
    if (!list.length) row.append(h('span', { class: 'muted small', 'data-testid': 'causes-none' }, c.causes === undefined ? '…' : s.noCauses));
    for (const cause of list) {
      const terms = c.causeTerms?.[cause];
      row.append(h('span', { class: 'chip cause', 'data-testid': 'cause-chip', 'data-cause': cause, title: terms?.length ? s.causeTerms(terms.join(', ')) : null }, s.causeName[cause] ?? cause));
    }
    if (c.causesCorrected) row.append(h('span', { class: 'corrected-mark', title: s.causesCorrectedTitle, 'data-testid': 'causes-corrected' }, '✓ ' + s.causesCorrected));
    if (this.canEditCauses(c) && this.causesEdit?.conv !== c.id) {
      const edit = h('button', { class: 'linkish small', type: 'button', title: s.editCausesTitle, 'data-testid': 'causes-edit' }, s.editCauses);
      edit.addEventListener('click', () => {
        this.causesEdit = { conv: c.id, picked: new Set(c.causes ?? []) };
        this.ctx.schedule();
      });
      row.append(edit);
    }
    return row;
  }

  /** Checkboxes of the seven causes, Save (sends causes.set) and Cancel. */
  private causesEditor(c: ConvVM): HTMLElement | null {
    const { ctx } = this;
    const s = t();
    const ed = this.causesEdit;
    if (!ed || ed.conv !== c.id || !this.canEditCauses(c)) return null;
    const box = h('div', { class: 'causes-editor', role: 'group', 'aria-label': s.editCausesTitle, 'data-testid': 'causes-editor' });
    for (const cause of CAUSES) {
      const cb = h('input', { type: 'checkbox', value: cause, checked: ed.picked.has(cause), 'data-testid': 'cause-opt-' + cause });
      cb.addEventListener('change', () => {
        if (cb.checked) ed.picked.add(cause);
        else ed.picked.delete(cause);
        cb.toggleAttribute('checked', cb.checked);
      });
      box.append(h('label', { class: 'cause-opt' }, cb, s.causeName[cause] ?? cause));
    }
    const save = h('button', { class: 'btn primary sm', type: 'button', 'data-testid': 'causes-save' }, s.saveCauses);
    save.addEventListener('click', () => {
      const causes = CAUSES.filter((x) => ed.picked.has(x));
      if (ctx.act({ type: 'causes.set', conversation_id: c.id, causes })) {
        this.causesEdit = null;
        ctx.schedule();
      }
    });
    const cancel = h('button', { class: 'btn ghost sm', type: 'button', 'data-testid': 'causes-cancel' }, s.cancel);
    cancel.addEventListener('click', () => {
      this.causesEdit = null;
      ctx.schedule();
    });
    box.append(h('span', { class: 'causes-actions' }, save, cancel));
    return box;
  }

  /** "resolved · by you" */
  private closedDetail(c: ConvVM): string {
    const { ctx } = this;
    const s = t();
    const by = c.closedBy;
    const who = !by ? '' : by === ctx.session.user_id ? s.byYou : s.by(by === c.shopper?.id ? ctx.shopperName(c) : ctx.staffName(by));
    const reason = c.closedReason ? s.closeReason[c.closedReason] ?? c.closedReason : '';
    return [reason, who].filter(Boolean).join(' · ');
  }

  private transferControl(c: ConvVM): HTMLElement {
    const { ctx } = this;
    const s = t();
    const sel = h('select', { 'aria-label': s.transferTo, 'data-testid': 'transfer-select' }, h('option', { value: '' }, s.transferPick));
    const queues = ctx.model.snapshot?.queues?.map((q) => q.name) ?? [];
    for (const q of queues.length ? queues : [c.queue || 'default']) sel.append(h('option', { value: 'queue:' + q }, s.backToQueue(q)));
    // While the list is open, keep the options it opened with: a fresh agents.list
    // answer re-renders the head, and a changed <select> would close under the pointer.
    const targets = this.transferOpen && this.shownTargets ? this.shownTargets : ctx.model.transferTargets();
    this.shownTargets = targets;
    for (const a of targets) {
      if (a.id === c.agentId) continue;
      sel.append(h('option', { value: 'agent:' + a.id }, s.agentOption(a.name, s.status[a.status] ?? String(a.status), a.load, a.capacity)));
    }
    sel.append(h('option', { value: 'other' }, s.anotherAgent));
    // Colleagues come on request: opening the list asks for a fresh one.
    sel.addEventListener('focus', () => {
      this.transferOpen = true;
      ctx.refreshColleagues();
    });
    sel.addEventListener('blur', () => {
      this.transferOpen = false;
      ctx.schedule();
    });
    sel.addEventListener('change', () => {
      const v = sel.value;
      sel.value = '';
      if (!v) return;
      if (v.startsWith('queue:')) {
        ctx.act({ type: 'conversation.transfer', conversation_id: c.id, to_queue: v.slice(6) }, t().sentBackToQueue);
        return;
      }
      let agentId = v.startsWith('agent:') ? v.slice(6) : '';
      if (v === 'other') agentId = (window.prompt(t().promptAgentId) ?? '').trim();
      if (agentId) ctx.act({ type: 'conversation.transfer', conversation_id: c.id, to_agent_id: agentId }, t().transferRequested);
    });
    return sel;
  }

  private buildTranscript(tr: HTMLElement, c: ConvVM, msgs: ChatMessage[]): void {
    const { ctx } = this;
    const s = t();
    const me = ctx.session.user_id;
    if (!msgs.length && !c.pending.size) tr.append(h('div', { class: 'placeholder small' }, s.noMessagesDot));
    let lastStaffSeq = 0;
    for (const m of msgs) if (m.from?.role !== 'shopper' && m.visibility !== 'staff') lastStaffSeq = m.seq;
    for (const m of msgs) {
      const mine = m.from?.id === me;
      const role = m.from?.role ?? 'agent';
      const whisper = m.visibility === 'staff';
      const cls = ['msg', role === 'shopper' ? 'from-shopper' : 'from-staff', mine ? 'mine' : '', whisper ? 'whisper' : ''].join(' ');
      const who = mine ? s.you : m.from?.name || (role === 'shopper' ? ctx.shopperName(c) : role);
      const receipt = !whisper && role !== 'shopper' && m.seq === lastStaffSeq && c.peerReadSeq >= m.seq ? ' · ' + s.seen : '';
      tr.append(
        h(
          'div',
          { class: cls, 'data-seq': m.seq, 'data-testid': whisper ? 'msg-whisper' : role === 'shopper' ? 'msg-shopper' : 'msg-staff' },
          h('div', { class: 'msg-who' }, who, whisper ? h('span', { class: 'whisper-tag' }, s.whisperTag) : null),
          h('div', { class: 'bubble' }, m.text),
          h('div', { class: 'msg-meta' }, fmtTime(m.ts, locale()) + receipt),
        ),
      );
    }
    for (const p of c.pending.values()) {
      const whisper = ctx.myVisibility(c.id) === 'staff';
      tr.append(
        h(
          'div',
          { class: 'msg from-staff mine pending' + (whisper ? ' whisper' : ''), 'data-testid': 'msg-pending' },
          h('div', { class: 'msg-who' }, s.you),
          h('div', { class: 'bubble' }, p.text),
          h('div', { class: 'msg-meta' + (p.failed ? ' failed' : '') }, p.failed ? s.notSent(p.failed) : s.sending),
        ),
      );
    }
    if (c.state === 'closed') {
      tr.append(h('div', { class: 'sysline', 'data-testid': 'closed-line' }, s.conversationClosed(this.closedDetail(c))));
    }
  }

  private renderComposer(c: ConvVM, now: number): void {
    const { ctx } = this;
    const s = t();
    const { input, sendBtn, note } = this.composer;
    const alert = c.state !== 'closed' && !c.gone ? c.alert : undefined;
    this.alertBar.hidden = !alert;
    this.alertBar.className = 'alert-bar ' + (alert?.kind ?? '');
    const why = alert?.reasons.join('; ');
    this.alertBar.textContent = alert ? (alert.kind === 'nudge' ? `⏱ ${why || s.nudgeDefault}` : `⚠ ${why || s.warningDefault} ${s.warningAdvice}`) : '';
    this.renderTyping(c, now);

    const can = ctx.canAct(c);
    input.disabled = sendBtn.disabled = !can;
    const vis = ctx.myVisibility(c.id);
    note.className = 'composer-note' + (vis === 'staff' && can ? ' whisper' : '');
    note.textContent =
      goneText(c) ??
      (c.state === 'closed'
        ? s.closedNote
        : !can && ctx.isSupervisor
          ? c.joined === 'monitor'
            ? s.monitoringNote
            : s.joinToWrite
          : vis === 'staff'
            ? s.whisperModeNote
            : '');
    input.placeholder = vis === 'staff' ? s.whisperPlaceholder : s.replyPlaceholder;
  }
}
