/**
 * The supervisor's escalation inbox: a card per escalation (severity, shopper, order
 * context and VIP badge, reasons, waiting facts, level sparkline, transcript tail) with
 * acknowledge / resolve (with a note) / open.
 */
import { h } from '../../shared/dom';
import { getLang, t } from '../i18n';
import { fmtDuration, levelColor, type EscalationVM } from '../model';
import type { Ctx } from './ctx';
import { contextChips, sparkline, swapIfChanged } from './util';

export class InboxView {
  readonly el: HTMLElement;
  private count: HTMLElement;
  private box: HTMLElement;

  constructor(private ctx: Ctx) {
    const s = t();
    this.count = h('span', { class: 'pill', 'data-testid': 'esc-count' }, '0');
    this.box = h('div', { class: 'esc-list', 'data-testid': 'escalations' });
    this.el = h('section', { class: 'card', 'aria-label': s.escalations }, h('h3', {}, s.escalations + ' ', this.count), this.box);
  }

  render(now: number): void {
    const s = t();
    const all = this.ctx.model.orderedEscalations();
    const open = all.filter((e) => e.status !== 'resolved');
    this.count.textContent = String(open.length);
    this.count.className = 'pill' + (all.some((e) => e.status === 'open') ? ' alert' : '');
    // Do not rebuild while the supervisor types a note.
    if (this.box.contains(document.activeElement) && (document.activeElement as HTMLElement).tagName === 'INPUT') return;
    swapIfChanged(this.box, (box) => {
      if (!all.length) box.append(h('p', { class: 'muted' }, s.noEscalations));
      for (const e of all.slice(0, 20)) box.append(this.card(e, now));
    });
  }

  private card(e: EscalationVM, now: number): HTMLElement {
    const { ctx } = this;
    const s = t();
    const lang = getLang();
    const c = ctx.model.convs.get(e.conversation_id);
    const note = h('input', { type: 'text', placeholder: s.resolutionNote, 'aria-label': s.resolutionNote, 'data-testid': 'esc-note' });
    const ack = h('button', { class: 'btn', type: 'button', disabled: e.status !== 'open', 'data-testid': 'esc-ack' }, s.acknowledge);
    ack.addEventListener('click', () => ctx.act({ type: 'escalation.ack', escalation_id: e.escalation_id }));
    const resolve = h('button', { class: 'btn primary', type: 'button', 'data-testid': 'esc-resolve' }, s.resolve);
    resolve.addEventListener('click', () => ctx.act({ type: 'escalation.resolve', escalation_id: e.escalation_id, note: note.value.trim() || undefined }));
    const openBtn = h('button', { class: 'btn ghost', type: 'button' }, s.open);
    openBtn.addEventListener('click', () => ctx.select(e.conversation_id));
    const curve = e.curve?.length ? e.curve : c?.anger?.curve;
    const tail = (e.transcript_tail ?? []).slice(-3);
    const spark = sparkline(curve?.map((p) => p.level) ?? []);
    const shopper = c?.shopper?.context ? c.shopper : e.shopper ?? c?.shopper;
    return h(
      'article',
      { class: `esc ${e.severity} ${e.status}`, 'data-testid': 'esc-card', 'data-esc': e.escalation_id, 'data-conv': e.conversation_id },
      h(
        'div',
        { class: 'esc-head' },
        h('span', { class: `sev-badge ${e.severity}` }, s.severity[e.severity] ?? e.severity),
        h('strong', {}, c ? ctx.shopperName(c) : e.shopper?.name || e.conversation_id),
        h('span', { class: 'spacer' }),
        h('span', { class: 'muted small' }, s.ago(fmtDuration(now - e.raised_ts, lang))),
      ),
      contextChips(shopper, ctx.storeName(c?.store ?? e.store)),
      h('div', { class: 'esc-reasons' }, ...e.reasons.map((r) => h('span', { class: 'reason' }, r)), e.renotified ? h('span', { class: 'reason renotified' }, s.renotified(e.renotified)) : null),
      this.facts(e),
      h('div', { class: 'esc-level' }, h('span', { style: `color:${levelColor(e.level)}` }, s.level(Math.round(e.level))), spark),
      tail.length ? h('div', { class: 'esc-tail' }, ...tail.map((m) => h('div', {}, h('b', {}, (m.from?.name || m.from?.role || '') + ': '), m.text))) : null,
      e.status === 'resolved'
        ? h('div', { class: 'muted small' }, s.resolved(e.resolvedBy ? ctx.staffName(e.resolvedBy) : '', e.note ?? ''))
        : h('div', { class: 'esc-actions' }, e.status === 'acked' ? h('span', { class: 'muted small' }, s.acked(e.ackedBy ? ctx.staffName(e.ackedBy) : '')) : ack, note, resolve, openBtn),
    );
  }

  /** Waiting times and who handled it so far, when the server sends them. */
  private facts(e: EscalationVM): HTMLElement | null {
    const s = t();
    const lang = getLang();
    const facts: string[] = [];
    const w = e.waiting;
    if (w?.queued_s) facts.push(s.factQueued(fmtDuration(w.queued_s * 1000, lang)));
    if (w?.unanswered_s) facts.push(s.factUnanswered(fmtDuration(w.unanswered_s * 1000, lang)));
    if (w?.conversation_s) facts.push(s.factOpen(fmtDuration(w.conversation_s * 1000, lang)));
    if (e.handled_by?.length) facts.push(s.factHandledBy(e.handled_by.map((id) => this.ctx.staffName(id)).join(' → ')));
    else if (e.agent?.name) facts.push(s.factAgent(e.agent.name));
    return facts.length ? h('div', { class: 'muted small esc-facts' }, facts.join(' · ')) : null;
  }
}
