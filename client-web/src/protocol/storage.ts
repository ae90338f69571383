/** The part of the Web Storage API the client uses; injectable for tests. */
export interface StorageLike {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
  removeItem(key: string): void;
}

/** In-memory storage, used when localStorage is unavailable (privacy modes, sandboxed iframes). */
export class MemoryStorage implements StorageLike {
  private m = new Map<string, string>();
  getItem(k: string) {
    return this.m.has(k) ? this.m.get(k)! : null;
  }
  setItem(k: string, v: string) {
    this.m.set(k, String(v));
  }
  removeItem(k: string) {
    this.m.delete(k);
  }
}

/** localStorage/sessionStorage if usable, else memory. Accessing them can throw. */
export function safeStorage(kind: 'local' | 'session'): StorageLike {
  try {
    const s = kind === 'local' ? globalThis.localStorage : globalThis.sessionStorage;
    const probe = '__calma_probe__';
    s.setItem(probe, '1');
    s.removeItem(probe);
    return s;
  } catch {
    return new MemoryStorage();
  }
}
