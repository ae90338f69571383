import type { StorageLike } from './storage';

/** A chat.send that the server has not acked yet. */
export interface OutboxEntry {
  client_msg_id: string;
  conversation_id?: string;
  text: string;
  created_ts: number;
  /** Number of times it was put on the wire. */
  attempts: number;
}

/**
 * Unacked sends, in send order, keyed by client_msg_id, persisted to storage so
 * that they survive reconnects and (for the shopper) page reloads. An entry
 * leaves the outbox only on `ack` (or on a non-retryable error).
 */
export class Outbox {
  private entries: OutboxEntry[] = [];

  constructor(
    private storage?: StorageLike,
    private key?: string,
  ) {
    this.load();
  }

  private load(): void {
    if (!this.storage || !this.key) return;
    try {
      const raw = this.storage.getItem(this.key);
      const parsed = raw ? JSON.parse(raw) : [];
      if (Array.isArray(parsed)) {
        this.entries = parsed.filter(
          (e) => e && typeof e.client_msg_id === 'string' && typeof e.text === 'string',
        );
      }
    } catch {
      this.entries = [];
    }
  }

  private save(): void {
    if (!this.storage || !this.key) return;
    try {
      if (this.entries.length) this.storage.setItem(this.key, JSON.stringify(this.entries));
      else this.storage.removeItem(this.key);
    } catch {
      /* quota: keep in memory */
    }
  }

  add(e: OutboxEntry): void {
    if (this.get(e.client_msg_id)) return;
    this.entries.push(e);
    this.save();
  }

  get(id: string): OutboxEntry | undefined {
    return this.entries.find((e) => e.client_msg_id === id);
  }

  remove(id: string): OutboxEntry | undefined {
    const i = this.entries.findIndex((e) => e.client_msg_id === id);
    if (i < 0) return undefined;
    const [e] = this.entries.splice(i, 1);
    this.save();
    return e;
  }

  update(id: string, patch: Partial<OutboxEntry>): void {
    const e = this.get(id);
    if (!e) return;
    Object.assign(e, patch);
    this.save();
  }

  /** Entries without a conversation get one (the shopper's first send opened it). */
  assignConversation(conversationId: string): void {
    let changed = false;
    for (const e of this.entries) {
      if (!e.conversation_id) {
        e.conversation_id = conversationId;
        changed = true;
      }
    }
    if (changed) this.save();
  }

  list(): readonly OutboxEntry[] {
    return this.entries;
  }

  get size(): number {
    return this.entries.length;
  }

  clear(): void {
    this.entries = [];
    this.save();
  }
}
