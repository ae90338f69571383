/**
 * The follow-up list (GET /api/v1/followups): shoppers who left a contact and got no
 * answer, and conversations closed as "needs follow-up". A store filter when the user
 * serves several stores; "Done" sends `followup.done` over the WebSocket.
 */
import type { FollowUp, StoreInfo } from '../../protocol/types';
import { h } from '../../shared/dom';
import { fmtDateTime } from '../format';
import { mailtoHref, telHref, type FollowupsStore } from '../followups';
import { locale, t } from '../i18n';
import type { Ctx } from './ctx';
import { contextChips, swapIfChanged } from './util';

export class FollowupsView {
  readonly el: HTMLElement;
  private body: HTMLElement;
  private filter: HTMLSelectElement | null = null;
  private count: HTMLElement;
  private store: string | null = null;

  constructor(
    private ctx: Ctx,
    private data: FollowupsStore,
    stores: StoreInfo[],
  ) {
    const s = t();
    this.count = h('span', { class: 'pill', 'data-testid': 'followups-total' }, '0');
    this.body = h('div', { class: 'fu-body', 'data-testid': 'followups' });
    const head = h('div', { class: 'fu-head' }, h('h2', { id: 'followups-title' }, s.followups), this.count, h('span', { class: 'spacer' }));
    if (stores.length > 1) {
      this.filter = h(
        'select',
        { class: 'fu-filter', 'aria-label': s.colStore, 'data-testid': 'followups-store' },
        h('option', { value: '' }, s.allStores),
        ...stores.map((st) => h('option', { value: st.id }, st.name || st.id)),
      );
      this.filter.addEventListener('change', () => {
        this.store = this.filter!.value || null;
        this.render();
      });
      head.append(h('label', { class: 'fu-filter-label' }, h('span', { class: 'muted small' }, s.colStore + ' '), this.filter));
    }
    this.el = h('section', { class: 'followups-panel', role: 'tabpanel', id: 'panel-followups', 'aria-labelledby': 'tab-followups', 'data-testid': 'followups-panel' }, head, this.body);
  }

  render(): void {
    const s = t();
    const list = this.data.visible(this.store);
    this.count.textContent = String(list.length);
    swapIfChanged(this.body, (body) => {
      if (!this.data.loaded) {
        if (this.data.failed) body.append(h('p', { class: 'muted', role: 'alert' }, s.followupsFailed));
        else body.append(h('p', { class: 'muted' }, s.loading));
        return;
      }
      if (this.data.failed) body.append(h('p', { class: 'fu-error', role: 'alert' }, s.followupsFailed));
      if (!list.length) {
        body.append(h('p', { class: 'muted fu-empty', 'data-testid': 'followups-empty' }, s.followupsEmpty));
        return;
      }
      body.append(
        h(
          'table',
          { class: 'fu-table', 'aria-labelledby': 'followups-title' },
          h('thead', {}, h('tr', {}, ...[s.colShopper, s.colStore, s.colReason, s.colContact, s.colNote, s.colCreated, ''].map((c) => h('th', { scope: 'col' }, c)))),
          h('tbody', {}, ...list.map((f) => this.row(f))),
        ),
      );
    });
  }

  private row(f: FollowUp): HTMLElement {
    const { ctx } = this;
    const s = t();
    const email = f.contact?.email || '';
    const phone = f.contact?.phone || '';
    const mail = mailtoHref(email);
    const tel = telHref(phone);
    const contact: (HTMLElement | string)[] = [];
    if (email) contact.push(mail ? h('a', { href: mail, 'data-testid': 'followup-email' }, email) : h('span', {}, email));
    if (phone) contact.push(tel ? h('a', { href: tel, 'data-testid': 'followup-phone' }, phone) : h('span', {}, phone));
    const done = h('button', { class: 'btn primary', type: 'button', 'data-testid': 'followup-done', 'data-conv': f.conversation_id }, s.done);
    done.addEventListener('click', () => {
      this.data.markDone(f.conversation_id);
      if (!ctx.act({ type: 'followup.done', conversation_id: f.conversation_id })) this.data.unmarkDone(f.conversation_id);
    });
    const name = f.shopper?.name || s.shopperFallback((f.shopper?.id ?? f.conversation_id).slice(-4));
    const reason = f.reason === 'contact' ? s.reasonContact : f.reason === 'follow_up' ? s.reasonFollowUp : String(f.reason);
    return h(
      'tr',
      { 'data-testid': 'followup-row', 'data-conv': f.conversation_id },
      h('td', {}, h('strong', {}, name), f.shopper?.language ? h('span', { class: 'lang' }, f.shopper.language.toUpperCase()) : null, contextChips(f.shopper)),
      h('td', {}, (f.store && ctx.storeName(f.store)) || f.store || ''),
      h(
        'td',
        {},
        h('span', { class: 'fu-reason ' + f.reason }, reason),
        f.close_reason ? h('div', { class: 'muted small' }, s.closeReasonLine(s.closeReason[f.close_reason] ?? f.close_reason)) : null,
        f.agent?.name ? h('div', { class: 'muted small' }, s.handledByAgent(f.agent.name)) : null,
      ),
      h('td', { class: 'fu-contact' }, ...(contact.length ? contact : [h('span', { class: 'muted' }, s.noContact)])),
      h('td', { class: 'fu-note' }, f.contact?.note || ''),
      h('td', { class: 'nowrap' }, fmtDateTime(f.created_ts, locale())),
      h('td', {}, done),
    );
  }
}
