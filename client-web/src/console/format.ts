/** Locale-aware formatting for the console (money, language names, dates). No DOM. */
import type { ShopperContext } from '../protocol/types';

/** 950 + "PLN" in pl-PL → "950,00 zł"; a bad currency code falls back to "950 XYZ". */
export function fmtMoney(value: number | string | undefined | null, currency: string | undefined | null, locale: string): string {
  if (value === undefined || value === null || value === '') return '';
  const n = typeof value === 'number' ? value : Number(String(value).replace(',', '.'));
  if (!Number.isFinite(n)) return String(value);
  const cur = (currency ?? '').trim().toUpperCase();
  if (/^[A-Z]{3}$/.test(cur)) {
    try {
      return new Intl.NumberFormat(locale, { style: 'currency', currency: cur }).format(n);
    } catch {
      /* not a currency the runtime knows */
    }
  }
  const num = new Intl.NumberFormat(locale, { maximumFractionDigits: 2 }).format(n);
  return cur ? `${num} ${cur}` : num;
}

/** "pl" in a Spanish console → "polaco"; the code itself when the runtime cannot name it. */
export function languageName(code: string, uiLocale: string): string {
  try {
    const dn = new Intl.DisplayNames([uiLocale], { type: 'language' });
    return dn.of(code) ?? code;
  } catch {
    return code;
  }
}

export function fmtDateTime(ts: number, locale: string): string {
  try {
    return new Date(ts).toLocaleString(locale, { day: 'numeric', month: 'short', hour: '2-digit', minute: '2-digit' });
  } catch {
    return new Date(ts).toISOString().slice(0, 16).replace('T', ' ');
  }
}

export function isVip(ctx: ShopperContext | undefined | null): boolean {
  return String(ctx?.tier ?? '').toLowerCase() === 'vip';
}

/** The non-empty parts of a shopper context, normalised to strings. */
export function contextParts(ctx: ShopperContext | undefined | null, locale: string): { orderId?: string; value?: string; tier?: string; vip: boolean } {
  const orderId = ctx?.order_id !== undefined && ctx?.order_id !== null && String(ctx.order_id) !== '' ? String(ctx.order_id) : undefined;
  const value = fmtMoney(ctx?.order_value, ctx?.currency, locale) || undefined;
  const tier = ctx?.tier ? String(ctx.tier) : undefined;
  return { orderId, value, tier, vip: isVip(ctx) };
}
