/**
 * The conversation's audit trail beside its anger curve: one compact line per entry
 * (time, who, what, detail), oldest first, in a scrollable box that follows the newest.
 * The entries come from the conversation endpoint (app.ts fetches; audit.ts formats).
 */
import { h } from '../../shared/dom';
import { auditLines } from '../audit';
import { locale, t } from '../i18n';
import type { ConvVM } from '../model';
import type { Ctx } from './ctx';
import { swapIfChanged } from './util';

export class AuditView {
  readonly el: HTMLElement;
  private list: HTMLElement;
  private count: HTMLElement;
  private lastConv: string | null = null;

  constructor(private ctx: Ctx) {
    const s = t();
    this.count = h('span', { class: 'pill', 'data-testid': 'audit-count' }, '0');
    this.list = h('ol', { class: 'audit-list', 'data-testid': 'audit', 'aria-label': s.auditTitle });
    this.el = h('section', { class: 'card audit-card', 'aria-label': s.auditTitle, 'data-testid': 'audit-card' }, h('h3', {}, s.auditTitle + ' ', this.count), this.list);
  }

  render(c: ConvVM | undefined): void {
    const s = t();
    const { ctx } = this;
    const lines = c
      ? auditLines(c.audit, s, locale(), {
          shopper: ctx.shopperName(c),
          me: ctx.session.user_id,
          you: s.you,
          staff: (id) => ctx.staffName(id),
        })
      : [];
    this.count.textContent = String(lines.length);
    this.count.hidden = !c?.audit;
    const list = this.list;
    const atEnd = list.scrollHeight - list.scrollTop - list.clientHeight < 24;
    const changed = swapIfChanged(list, (ol) => {
      if (!c) return;
      if (!c.audit) {
        ol.append(h('li', { class: 'muted small audit-empty' }, c.auditFailed ? s.auditFailed : s.loading));
        return;
      }
      if (!lines.length) ol.append(h('li', { class: 'muted small audit-empty' }, s.auditEmpty));
      for (const l of lines) {
        ol.append(
          h(
            'li',
            { class: 'audit-entry' + (l.system ? ' system' : ''), 'data-testid': 'audit-entry', 'data-action': l.action },
            h('time', { class: 'audit-time', datetime: new Date(l.ts).toISOString(), title: l.when }, l.time),
            h('span', { class: 'audit-who' }, l.who),
            h('span', { class: 'audit-label' }, l.label),
            l.detail ? h('span', { class: 'audit-detail' }, l.detail) : null,
          ),
        );
      }
    });
    const switched = this.lastConv !== (c?.id ?? null);
    this.lastConv = c?.id ?? null;
    if (changed && (switched || atEnd)) list.scrollTop = list.scrollHeight;
  }
}
