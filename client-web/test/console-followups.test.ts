import { describe, expect, it, vi } from 'vitest';
import { contextParts, fmtMoney, isVip, languageName } from '../src/console/format';
import { FollowupsStore, mailtoHref, telHref, visibleFollowups } from '../src/console/followups';
import type { FollowUp } from '../src/protocol/types';

const fu = (id: string, store: string, ts: number, reason = 'follow_up'): FollowUp => ({
  conversation_id: id,
  store,
  reason,
  created_ts: ts,
  shopper: { id: 's-' + id, name: 'N ' + id },
  contact: null,
});

describe('follow-up list', () => {
  it('makes mailto: and tel: links only of plausible contacts', () => {
    expect(mailtoHref('ana@example.com')).toBe('mailto:ana@example.com');
    expect(mailtoHref(' ana.k+shop@sklep.com.pl ')).toBe('mailto:ana.k+shop@sklep.com.pl');
    expect(mailtoHref('not an email')).toBeNull();
    expect(mailtoHref('x@y.z?subject=hi')).toBeNull();
    expect(mailtoHref('javascript:alert(1)//@x.com')).toBeNull();
    expect(mailtoHref(null)).toBeNull();
    expect(telHref('+48 600-100 200')).toBe('tel:+48600100200');
    expect(telHref('(91) 555 12 34')).toBe('tel:915551234');
    expect(telHref('call me')).toBeNull();
  });

  it('shows one store or all, oldest first, without those marked done here', () => {
    const list = [fu('c', 'demo', 30), fu('a', 'demo-pl', 10), fu('b', 'demo', 20)];
    expect(visibleFollowups(list, null, new Set()).map((f) => f.conversation_id)).toEqual(['a', 'b', 'c']);
    expect(visibleFollowups(list, 'demo', new Set()).map((f) => f.conversation_id)).toEqual(['b', 'c']);
    expect(visibleFollowups(list, null, new Set(['b'])).map((f) => f.conversation_id)).toEqual(['a', 'c']);
  });

  it('refetches once more when asked during a fetch, and forgets "done here" once the server dropped it', async () => {
    let resolve!: (v: FollowUp[]) => void;
    const fetcher = vi.fn(() => new Promise<FollowUp[]>((r) => (resolve = r)));
    const store = new FollowupsStore(fetcher);
    const first = store.refresh();
    void store.refresh();
    void store.refresh();
    expect(fetcher).toHaveBeenCalledTimes(1);
    resolve([fu('a', 'demo', 1), fu('b', 'demo', 2)]);
    await Promise.resolve();
    await new Promise((r) => setTimeout(r, 0));
    expect(fetcher).toHaveBeenCalledTimes(2); // the two calls made meanwhile: one more fetch
    store.markDone('a');
    expect(store.visible(null).map((f) => f.conversation_id)).toEqual(['b']);
    resolve([fu('b', 'demo', 2)]);
    await first;
    await new Promise((r) => setTimeout(r, 0));
    expect(store.loaded).toBe(true);
    expect(store.doneHere.has('a')).toBe(false);
    expect(store.visible(null).map((f) => f.conversation_id)).toEqual(['b']);
  });

  it('keeps the last list when a refetch fails', async () => {
    let ok = true;
    const store = new FollowupsStore(async () => (ok ? [fu('a', 'demo', 1)] : null));
    await store.refresh();
    ok = false;
    await store.refresh();
    expect(store.failed).toBe(true);
    expect(store.visible(null)).toHaveLength(1);
  });
});

describe('shopper context formatting', () => {
  it('formats the order value with the currency in the UI locale', () => {
    expect(fmtMoney(950, 'PLN', 'pl-PL')).toBe('950,00\u00a0zł');
    expect(fmtMoney('920', 'eur', 'es-ES')).toBe('920,00\u00a0€');
    expect(fmtMoney(12.5, 'XX', 'en-GB')).toBe('12.5 XX');
    expect(fmtMoney(7, undefined, 'en-GB')).toBe('7');
    expect(fmtMoney(undefined, 'EUR', 'en-GB')).toBe('');
    expect(fmtMoney('abc', 'EUR', 'en-GB')).toBe('abc');
  });

  it('knows a VIP, and the parts worth showing', () => {
    expect(isVip({ tier: 'VIP' })).toBe(true);
    expect(isVip({ tier: 'gold' })).toBe(false);
    expect(isVip(undefined)).toBe(false);
    expect(contextParts({ order_id: 'PL-77', order_value: 950, currency: 'PLN', tier: 'vip' }, 'pl-PL')).toEqual({ orderId: 'PL-77', value: '950,00\u00a0zł', tier: 'vip', vip: true });
    expect(contextParts({ order_id: 1042 }, 'en-GB')).toEqual({ orderId: '1042', value: undefined, tier: undefined, vip: false });
    expect(contextParts({}, 'en-GB')).toEqual({ orderId: undefined, value: undefined, tier: undefined, vip: false });
  });

  it('names languages in the UI language', () => {
    expect(languageName('pl', 'es-ES')).toBe('polaco');
    expect(languageName('es', 'pl-PL')).toBe('hiszpański');
  });
});
