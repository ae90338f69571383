/** Small DOM helpers shared by the console's views (text only through textContent). */
import type { ShopperInfo } from '../../protocol/types';
import { h } from '../../shared/dom';
import { contextParts } from '../format';
import { locale, t } from '../i18n';
import type { ConvVM } from '../model';

/**
 * Build new content off-document and swap it in only if it differs, so the
 * once-a-second refresh does not steal keyboard focus, text selection or an open
 * <select>. Focus moves to the equivalent new element (same data-testid/data-conv).
 * Returns whether anything changed.
 */
export function swapIfChanged(target: HTMLElement, build: (into: HTMLElement) => void): boolean {
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
export function sparkline(levels: number[]): SVGSVGElement {
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

/** The shopper's order id, order value, VIP badge (or other tier) as chips; null when there is no context. */
export function contextChips(shopper: ShopperInfo | null | undefined, storeName?: string): HTMLElement | null {
  const s = t();
  const p = contextParts(shopper?.context, locale());
  const chips: HTMLElement[] = [];
  if (p.vip) chips.push(h('span', { class: 'vip-badge', title: s.vipTitle, 'data-testid': 'vip-badge' }, s.vip));
  else if (p.tier) chips.push(h('span', { class: 'chip tier', 'data-testid': 'ctx-tier' }, s.tier(p.tier)));
  if (p.orderId) chips.push(h('span', { class: 'chip order', 'data-testid': 'ctx-order' }, s.order(p.orderId)));
  if (p.value) chips.push(h('span', { class: 'chip value', title: s.orderValue, 'data-testid': 'ctx-value' }, p.value));
  if (storeName) chips.push(h('span', { class: 'chip store', title: s.store, 'data-testid': 'store-name' }, storeName));
  return chips.length ? h('div', { class: 'ctx-chips', 'data-testid': 'shopper-context' }, ...chips) : null;
}

export function stateLabel(state: ConvVM['state']): string {
  const s = t();
  return state === 'queued' ? s.stateQueued : state === 'closed' ? s.stateClosed : s.stateAssigned;
}

export function goneText(c: ConvVM): string | undefined {
  const g = c.gone;
  if (!g) return undefined;
  const s = t();
  return g.kind === 'transferred' ? s.goneTransferred(g.to) : g.kind === 'requeued' ? s.goneRequeued : s.goneUnassigned;
}
