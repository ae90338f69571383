/**
 * The conversation list (left column): angriest and longest-waiting first, with
 * unread counts, escalation marks, agent alerts, the store and the VIP badge.
 */
import { ICONS, h, icon, initials } from '../../shared/dom';
import { getLang, t } from '../i18n';
import { isVip } from '../format';
import { fmtDuration, levelColor, type ConvVM } from '../model';
import type { Ctx } from './ctx';
import { goneText, stateLabel, swapIfChanged } from './util';

export class ListView {
  readonly el: HTMLElement;
  private list: HTMLElement;
  private count: HTMLElement;

  constructor(private ctx: Ctx) {
    const s = t();
    this.count = h('span', { class: 'count', 'data-testid': 'conv-count' });
    this.list = h('ul', { class: 'conv-list', 'aria-label': s.conversationsLabel, 'data-testid': 'conv-list' });
    this.el = h('aside', { class: 'side' }, h('div', { class: 'side-head' }, h('h2', {}, ctx.isSupervisor ? s.allConversations : s.myConversations), this.count), this.list);
  }

  render(now: number): void {
    const convs = this.ctx.model.ordered(now);
    this.count.textContent = String(convs.filter((c) => !c.gone && c.state !== 'closed').length);
    swapIfChanged(this.list, (list) => this.build(list, convs, now));
  }

  private build(list: HTMLElement, convs: ConvVM[], now: number): void {
    const s = t();
    const { ctx } = this;
    const me = ctx.session.user_id;
    if (!convs.length) {
      list.append(h('li', { class: 'empty' }, ctx.isSupervisor ? s.noOpenConversations : s.noConversationsYet));
      return;
    }
    // Several stores: say which one each conversation is from.
    const manyStores = new Set(convs.map((c) => c.store).filter(Boolean)).size > 1;
    for (const c of convs) {
      const msgs = ctx.model.sortedMessages(c).filter((m) => m.visibility !== 'staff');
      const last = msgs[msgs.length - 1];
      // Unread counts matter to whoever answers: the holder, or a supervisor who joined.
      const unread = c.agentId === me || c.joined ? ctx.model.unread(c) : 0;
      const esc = ctx.model.openEscalationFor(c.id);
      const wait = c.waitingSince ? now - c.waitingSince : c.state === 'queued' ? now - c.createdTs : 0;
      const anger = c.anger;
      const name = ctx.shopperName(c);
      const gone = goneText(c);
      const preview =
        gone ??
        (last
          ? (last.from?.id === me ? s.youPrefix : last.from?.role === 'shopper' ? '' : `${last.from?.name || s.staff}: `) + last.text
          : c.knownLastSeq
            ? s.nMessages(c.knownLastSeq)
            : c.state === 'queued'
              ? s.waitingInQueue
              : ctx.isSupervisor
                ? s.openToSee
                : s.noMessages);
      const item = h(
        'li',
        {},
        h(
          'button',
          {
            type: 'button',
            class: 'conv-item' + (c.id === ctx.selected ? ' selected' : '') + (c.gone || c.state === 'closed' ? ' dim' : ''),
            'aria-current': c.id === ctx.selected ? 'true' : null,
            'data-conv': c.id,
            'data-testid': 'conv-item',
          },
          h('span', { class: 'avatar', style: anger ? `box-shadow: 0 0 0 2px ${levelColor(anger.level)}` : null }, initials(name)),
          h(
            'span',
            { class: 'conv-main' },
            h(
              'span',
              { class: 'conv-line' },
              h('span', { class: 'conv-name' }, name),
              isVip(c.shopper?.context) ? h('span', { class: 'vip-badge sm', title: s.vipTitle }, s.vip) : null,
              c.shopper?.language ? h('span', { class: 'lang' }, c.shopper.language.toUpperCase()) : null,
              esc ? h('span', { class: `sev ${esc.severity}`, title: s.escalated(esc.reasons.join(', ')) }, '⚠') : null,
              c.alert && !c.gone && c.state !== 'closed' ? h('span', { class: `tag-alert ${c.alert.kind}` }, c.alert.kind === 'nudge' ? s.tagReply : s.tagRising) : null,
              h('span', { class: 'spacer' }),
              unread ? h('span', { class: 'unread', 'aria-label': s.unread(unread), 'data-testid': 'unread' }, String(unread)) : null,
            ),
            h('span', { class: 'conv-preview' }, preview),
            h(
              'span',
              { class: 'conv-line small' },
              h('span', { class: `state ${c.state}` }, stateLabel(c.state)),
              manyStores && c.store ? h('span', { class: 'muted store-tag', title: ctx.storeName(c.store) ?? c.store }, ctx.storeName(c.store) ?? c.store) : null,
              ctx.isSupervisor && c.agentName ? h('span', { class: 'muted' }, c.agentName) : null,
              wait > 15000 && c.state !== 'closed' ? h('span', { class: 'wait', title: s.waitingForReply }, icon(ICONS.clock, 12), fmtDuration(wait, getLang())) : null,
              h('span', { class: 'spacer' }),
              anger
                ? h('span', { class: 'anger-pill', style: `background:${levelColor(anger.level)}`, 'data-testid': 'anger-pill' }, `${Math.round(anger.level)} · ${(s.phase[anger.phase] ?? anger.phase).toLowerCase()}`)
                : null,
            ),
          ),
        ),
      );
      item.firstElementChild!.addEventListener('click', () => ctx.select(c.id));
      list.append(item);
    }
  }
}
