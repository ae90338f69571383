import { describe, expect, it } from 'vitest';
import { LANGS, STRINGS, pickLang, plural, type Strings } from '../src/console/i18n';

/** Every leaf of the table: strings, functions (called with sample arguments), nested maps. */
function leaves(obj: Record<string, unknown>, prefix = ''): [string, unknown][] {
  const out: [string, unknown][] = [];
  for (const [k, v] of Object.entries(obj)) {
    if (v && typeof v === 'object') out.push(...leaves(v as Record<string, unknown>, prefix + k + '.'));
    else out.push([prefix + k, v]);
  }
  return out;
}

describe('console i18n', () => {
  it('has every string in every language, none empty', () => {
    const keys = leaves(STRINGS.en).map(([k]) => k).sort();
    for (const l of LANGS) {
      const mine = leaves(STRINGS[l] as unknown as Record<string, unknown>);
      expect(mine.map(([k]) => k).sort()).toEqual(keys);
      for (const [k, v] of mine) {
        const text = typeof v === 'function' ? (v as (...a: unknown[]) => string)(3, 'x', 1, 2) : v;
        expect(typeof text, `${l}.${k}`).toBe('string');
        expect((text as string).trim(), `${l}.${k}`).not.toBe('');
      }
    }
  });

  it('Spanish and Polish are translated, not copies of the English', () => {
    const same = (l: 'es' | 'pl') =>
      leaves(STRINGS[l] as unknown as Record<string, unknown>).filter(([k, v]) => typeof v === 'string' && v === leaves(STRINGS.en).find(([ek]) => ek === k)?.[1]);
    // Only words that are the same in every language (VIP, Online/Offline, Status, …).
    for (const l of ['es', 'pl'] as const) expect(same(l).map(([k]) => k).filter((k) => !/^(vip|presenceOnline|presenceOffline|colStatus|status\.(online|offline)|roleSupervisor|demoAccounts)$/.test(k))).toEqual([]);
  });

  it('picks the stored language, else the browser language, else English', () => {
    expect(pickLang('pl', ['es-ES'])).toBe('pl');
    expect(pickLang(null, ['de-DE', 'es-MX', 'pl'])).toBe('es');
    expect(pickLang('fr', ['pl_PL'])).toBe('pl');
    expect(pickLang(null, ['de'])).toBe('en');
    expect(pickLang(undefined, [])).toBe('en');
  });

  it('uses the Polish plural forms (one, few, many)', () => {
    const pl: Strings = STRINGS.pl;
    expect(pl.nMessages(1)).toBe('1 wiadomość');
    expect(pl.nMessages(3)).toBe('3 wiadomości');
    expect(pl.unread(1)).toBe('1 nieprzeczytana');
    expect(pl.unread(4)).toBe('4 nieprzeczytane');
    expect(pl.unread(5)).toBe('5 nieprzeczytanych');
    expect(pl.unread(12)).toBe('12 nieprzeczytanych');
    expect(pl.unread(22)).toBe('22 nieprzeczytane');
    expect(pl.nWaiting(1)).toBe('1 osoba czeka');
    expect(pl.nWaiting(2)).toBe('2 osoby czekają');
    expect(pl.nWaiting(5)).toBe('5 osób czeka');
    expect(pl.nFollowups(21)).toBe('21 spraw');
    expect(pl.cannedCount(2)).toBe('2 odpowiedzi');
    expect(pl.capacity(4)).toBe('Limit: 4 rozmowy naraz');
    expect(pl.capacity(5)).toBe('Limit: 5 rozmów naraz');
  });

  it('uses the Spanish and English plural forms', () => {
    expect(STRINGS.es.nMessages(1)).toBe('1 mensaje');
    expect(STRINGS.es.nMessages(2)).toBe('2 mensajes');
    expect(STRINGS.es.nFollowups(0)).toBe('0 seguimientos');
    expect(STRINGS.en.nFollowups(1)).toBe('1 follow-up');
    expect(STRINGS.en.cannedCount(7)).toBe('7 answers');
    // "many" (Spanish millions) falls back to "other"
    expect(plural('es', 1000000, { one: '# x', other: '# xs' })).toBe('1000000 xs');
  });

  it('keeps the English texts the browser tests look for', () => {
    const en = STRINGS.en;
    expect(en.connected).toBe('Connected');
    expect(en.assignedToYou).toBe('Assigned to you');
    expect(en.acked('')).toBe('Acked');
    expect(en.resolved('Sofía', 'ok')).toBe('Resolved by Sofía: ok');
    expect(en.phase.peak).toBe('Peak');
    expect(en.noData).toBe('no data');
    expect(en.loginWrong).toContain('Wrong username or password');
    expect(en.typing('Lucía')).toContain('is typing');
    expect(en.goneTransferred('Piotr')).toBe('Transferred to Piotr');
  });
});
