/**
 * The follow-up list (GET /api/v1/followups) without the DOM: which entries to show,
 * contact links, and a store of the list that refetches (coalesced) on
 * `followups.changed` / `followup.done`. Unit-tested in test/console-followups.test.ts.
 */
import type { FollowUp } from '../protocol/types';

/** mailto: for a plausible e-mail address, else null (no link is made). */
export function mailtoHref(email: string | null | undefined): string | null {
  const v = (email ?? '').trim();
  if (!/^[A-Za-z0-9.!$%'*+/=^_`{|}~-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$/.test(v)) return null;
  return 'mailto:' + v;
}

/** tel: with only digits and a leading +, else null. "+48 600-100 200" → "tel:+48600100200". */
export function telHref(phone: string | null | undefined): string | null {
  const v = (phone ?? '').trim();
  const digits = v.replace(/[^\d]/g, '');
  if (digits.length < 5) return null;
  return 'tel:' + (v.startsWith('+') ? '+' : '') + digits;
}

/** Oldest first, of one store (or all), without those marked done here and not yet refetched. */
export function visibleFollowups(list: FollowUp[], store: string | null, doneHere: ReadonlySet<string>): FollowUp[] {
  return list
    .filter((f) => (!store || f.store === store) && !doneHere.has(f.conversation_id))
    .sort((a, b) => (a.created_ts ?? 0) - (b.created_ts ?? 0));
}

export type FollowupsFetcher = () => Promise<FollowUp[] | null>;

/** The list, fetched on demand; refresh() calls that arrive during a fetch make one more fetch. */
export class FollowupsStore {
  items: FollowUp[] = [];
  loaded = false;
  loading = false;
  failed = false;
  /** conversation ids marked done from this console, hidden until the server's list drops them */
  doneHere = new Set<string>();
  private again = false;

  constructor(
    private fetcher: FollowupsFetcher,
    private onChange: () => void = () => {},
  ) {}

  async refresh(): Promise<void> {
    if (this.loading) {
      this.again = true;
      return;
    }
    this.loading = true;
    this.onChange();
    try {
      const list = await this.fetcher();
      if (list) {
        this.items = list;
        this.loaded = true;
        this.failed = false;
        // Done here and gone from the server's list: nothing to hide any more.
        const ids = new Set(list.map((f) => f.conversation_id));
        for (const id of this.doneHere) if (!ids.has(id)) this.doneHere.delete(id);
      } else {
        this.failed = true;
      }
    } catch {
      this.failed = true;
    } finally {
      this.loading = false;
      this.onChange();
    }
    if (this.again) {
      this.again = false;
      await this.refresh();
    }
  }

  markDone(conversationId: string): void {
    this.doneHere.add(conversationId);
    this.onChange();
  }

  /** Undo markDone (the frame could not be sent). */
  unmarkDone(conversationId: string): void {
    this.doneHere.delete(conversationId);
    this.onChange();
  }

  visible(store: string | null): FollowUp[] {
    return visibleFollowups(this.items, store, this.doneHere);
  }
}
