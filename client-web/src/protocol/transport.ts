/**
 * Transport layer: one WebSocket, JSON in and out. No protocol state here
 * (that is the client's job), no UI (that is the widget's/console's).
 */

/** The subset of the browser WebSocket used by the client; a fake implements it in tests. */
export interface WebSocketLike {
  readonly readyState: number;
  onopen: ((ev: unknown) => void) | null;
  onmessage: ((ev: { data: unknown }) => void) | null;
  onclose: ((ev: { code: number; reason: string; wasClean?: boolean }) => void) | null;
  onerror: ((ev: unknown) => void) | null;
  send(data: string): void;
  close(code?: number, reason?: string): void;
}

export type SocketFactory = (url: string) => WebSocketLike;

export const WS_OPEN = 1;

export const browserSocketFactory: SocketFactory = (url) =>
  new WebSocket(url) as unknown as WebSocketLike;

export interface TransportHandlers {
  onOpen(): void;
  onFrame(obj: Record<string, unknown>): void;
  onClose(code: number, reason: string): void;
}

export class Transport {
  private ws: WebSocketLike | null = null;

  constructor(
    private factory: SocketFactory,
    private handlers: TransportHandlers,
  ) {}

  open(url: string): void {
    this.detach();
    let ws: WebSocketLike;
    try {
      ws = this.factory(url);
    } catch (e) {
      // Bad URL or blocked: behave like an immediate close so the client backs off.
      queueMicrotask(() => this.handlers.onClose(1006, String(e)));
      return;
    }
    this.ws = ws;
    ws.onopen = () => {
      if (this.ws === ws) this.handlers.onOpen();
    };
    ws.onmessage = (ev) => {
      if (this.ws !== ws || typeof ev.data !== 'string') return;
      let obj: unknown;
      try {
        obj = JSON.parse(ev.data);
      } catch {
        return; // the server only sends JSON; ignore garbage rather than crash
      }
      if (obj && typeof obj === 'object' && typeof (obj as { type?: unknown }).type === 'string') {
        this.handlers.onFrame(obj as Record<string, unknown>);
      }
    };
    ws.onclose = (ev) => {
      if (this.ws !== ws) return;
      this.ws = null;
      this.handlers.onClose(ev.code, ev.reason);
    };
    ws.onerror = () => {
      /* a close event always follows */
    };
  }

  get isOpen(): boolean {
    return !!this.ws && this.ws.readyState === WS_OPEN;
  }

  send(obj: unknown): boolean {
    if (!this.ws || this.ws.readyState !== WS_OPEN) return false;
    try {
      this.ws.send(JSON.stringify(obj));
      return true;
    } catch {
      return false;
    }
  }

  /** Close without reporting it back (used when the client itself decides to drop the socket). */
  close(code = 1000, reason = ''): void {
    const ws = this.ws;
    this.detach();
    if (ws) {
      try {
        ws.close(code, reason);
      } catch {
        /* already closed */
      }
    }
  }

  private detach(): void {
    if (!this.ws) return;
    this.ws.onopen = this.ws.onmessage = this.ws.onclose = this.ws.onerror = null;
    this.ws = null;
  }
}
