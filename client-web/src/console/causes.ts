/**
 * The complaint causes of a conversation (spec-v1.1 "Issue 9 additions"): the seven the
 * server knows, in the order the console lists them, and their normalisation. No DOM;
 * unit-tested in test/console-report.test.ts.
 */
import type { Cause } from '../protocol/types';

export const CAUSES: readonly Cause[] = ['delivery', 'damaged', 'wrong_item', 'refund', 'payment', 'service', 'other'];

/** Strings only, once each, the known causes in CAUSES order, then any unknown one as sent. */
export function normCauses(list: unknown): string[] {
  if (!Array.isArray(list)) return [];
  const seen = new Set<string>();
  for (const x of list) if (typeof x === 'string' && x) seen.add(x);
  const known = CAUSES.filter((c) => seen.has(c));
  const unknown = [...seen].filter((c) => !(CAUSES as readonly string[]).includes(c));
  return [...known, ...unknown];
}

export function sameCauses(a: readonly string[] | undefined, b: readonly string[] | undefined): boolean {
  const x = normCauses(a ?? []);
  const y = normCauses(b ?? []);
  return x.length === y.length && x.every((v, i) => v === y[i]);
}
