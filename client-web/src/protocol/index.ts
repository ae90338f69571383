export * from './codes';
export * from './types';
export * from './backoff';
export * from './ids';
export * from './outbox';
export * from './storage';
export * from './transport';
export * from './client';

/** ws(s)://host/ws for an http(s) origin. */
export function wsUrlFor(origin: string): string {
  const u = new URL(origin);
  u.protocol = u.protocol === 'https:' ? 'wss:' : 'ws:';
  u.pathname = '/ws';
  u.search = '';
  u.hash = '';
  return u.toString();
}
