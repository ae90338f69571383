/** The supervisor's queue board: who waits in each queue (with anger level), and the agents' status and load. */
import type { QueueExtras, QueueSnapshot, WaitingExtras } from '../../protocol/types';
import { fmtTime, h } from '../../shared/dom';
import { getLang, locale, t } from '../i18n';
import { fmtDuration, levelColor } from '../model';
import type { Ctx } from './ctx';
import { swapIfChanged } from './util';

export class QueueView {
  readonly el: HTMLElement;
  private box: HTMLElement;

  constructor(private ctx: Ctx) {
    const s = t();
    this.box = h('div', { class: 'queues', 'data-testid': 'queues' }, h('p', { class: 'muted' }, s.waitingSnapshot));
    this.el = h('section', { class: 'card', 'aria-label': s.queuesAndAgents }, h('h3', {}, s.queuesAndAgents), this.box);
  }

  render(): void {
    const snap = this.ctx.model.snapshot;
    if (!snap) return;
    swapIfChanged(this.box, (box) => this.build(box, snap));
  }

  private build(box: HTMLElement, snap: QueueSnapshot): void {
    const { ctx } = this;
    const s = t();
    const queues = snap.queues ?? [];
    // The same queue name in several stores: say which store each one is.
    const manyStores = new Set(queues.map((q) => (q as QueueExtras).store).filter(Boolean)).size > 1;
    for (const q of queues) {
      const waiting = q.waiting ?? [];
      const store = (q as QueueExtras).store;
      // Capped by the server (routing.snapshot_max_waiting): the total says how many wait.
      const total = Math.max(waiting.length, (q as QueueExtras).waiting_total ?? 0);
      const rows = waiting.map((w) => {
        const c = ctx.model.convs.get(w.conversation_id);
        const x = w as WaitingExtras;
        const btn = h('button', { class: 'linkish', type: 'button', 'data-conv': w.conversation_id }, c ? ctx.shopperName(c) : x.shopper || w.conversation_id.slice(0, 8));
        btn.addEventListener('click', () => ctx.select(w.conversation_id));
        return h(
          'li',
          {},
          btn,
          x.vip ? h('span', { class: 'vip-badge sm', title: s.vipTitle }, s.vip) : null,
          h('span', { class: 'spacer' }),
          typeof w.level === 'number' ? h('span', { class: 'anger-pill', style: `background:${levelColor(w.level)}` }, String(Math.round(w.level))) : null,
          h('span', { class: 'muted small' }, fmtDuration((w.wait_s ?? 0) * 1000, getLang())),
        );
      });
      box.append(
        h(
          'div',
          { class: 'queue', 'data-testid': 'queue' },
          h('div', { class: 'queue-head' }, h('strong', {}, q.name, manyStores && store ? h('span', { class: 'muted small queue-store' }, ' · ' + (ctx.storeName(store) ?? store)) : null), h('span', { class: 'pill' + (total ? ' alert' : '') }, s.nWaiting(total))),
          rows.length ? h('ul', { class: 'waiting' }, ...rows) : h('p', { class: 'muted small' }, s.nobodyWaiting),
          total > waiting.length ? h('p', { class: 'muted small', 'data-testid': 'queue-more' }, s.moreWaiting(total - waiting.length)) : null,
        ),
      );
    }
    const agents = snap.agents ?? [];
    const table = h(
      'table',
      { class: 'agents', 'data-testid': 'agents' },
      h('thead', {}, h('tr', {}, h('th', {}, s.colAgent), h('th', {}, s.colStatus), h('th', {}, s.colLoad))),
      h(
        'tbody',
        {},
        ...agents.map((a) =>
          h(
            'tr',
            {},
            h('td', {}, a.name || a.id),
            h('td', {}, h('span', { class: `dot ${a.status}` }), s.status[a.status] ?? String(a.status)),
            h('td', {}, h('span', { class: 'load' }, h('span', { class: 'load-bar', style: `width:${a.capacity ? Math.min(100, (100 * a.load) / a.capacity) : 0}%` })), `${a.load}/${a.capacity}`),
          ),
        ),
      ),
    );
    box.append(agents.length ? table : h('p', { class: 'muted small' }, s.noAgentsOnline));
    // Capped by the server (routing.snapshot_max_agents, available ones first): say how many more.
    const allAgents = Math.max(agents.length, snap.agents_total ?? 0);
    if (allAgents > agents.length) {
      const by = snap.agents_by_status ?? {};
      box.append(h('p', { class: 'muted small', 'data-testid': 'agents-more' }, s.moreAgents(allAgents - agents.length, by.online ?? 0, by.away ?? 0)));
    }
    box.append(h('p', { class: 'muted tiny' }, s.updated(fmtTime(ctx.model.snapshotTs, locale()))));
  }
}
