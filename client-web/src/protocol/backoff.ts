/**
 * Full-jitter exponential backoff (as in centrifuge-js and the AWS architecture
 * note): delay = random(0, min(max, base * 2^attempt)). Full jitter spreads the
 * reconnect storm after a server restart over the whole window.
 */
export interface BackoffOptions {
  minMs: number;
  maxMs: number;
  random?: () => number;
}

export function backoffDelay(attempt: number, opts: BackoffOptions): number {
  const random = opts.random ?? Math.random;
  const a = Math.max(0, Math.min(attempt, 30));
  const cap = Math.min(opts.maxMs, opts.minMs * Math.pow(2, a));
  // Never below minMs/2 so a broken server is not hammered in a tight loop.
  const floor = Math.min(cap, opts.minMs / 2);
  return Math.floor(floor + random() * (cap - floor));
}
