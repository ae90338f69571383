/**
 * Error and close codes, mirrored from PROTOCOL.md (and the server's
 * common/protocol error enum). Keep these in sync with the server: the client
 * decides what to retry from them.
 */

/** `error.code` values sent by the server. */
export enum ErrorCode {
  /** Malformed frame, unknown type, missing or invalid field. Not retried. */
  BadRequest = 'bad_request',
  /** Missing or invalid credentials. */
  Unauthorized = 'unauthorized',
  /** Authenticated, but not allowed to act on that conversation/escalation. */
  Forbidden = 'forbidden',
  /** The conversation/escalation does not exist. */
  NotFound = 'not_found',
  /** Too many frames: retried later, with a delay. */
  RateLimited = 'rate_limited',
  /** Frame over the server's size limit. Not retried. */
  TooLarge = 'too_large',
  /** The store is down: the message was NOT stored and may be retried. */
  Unavailable = 'unavailable',
}

/** WebSocket close codes used by the server. */
export enum CloseCode {
  Normal = 1000,
  /** Protocol violation (e.g. binary or oversized frames). */
  ProtocolViolation = 4400,
  /** No hello in time, bad or expired token. Reconnecting with the same token is pointless. */
  Unauthorized = 4401,
  /** Idle for too long (no ping). Reconnect. */
  Idle = 4408,
  /** Flooding. Reconnect, but slowly. */
  Flood = 4429,
  /** A cluster's leader changed (or this node lost the link to it): reconnect soon. */
  ServiceRestart = 1012,
  /** No cluster leader yet, or it is loading: try again soon. */
  TryAgainLater = 1013,
}

/** Longest wait before reconnecting after the server asked for it (1012, 1013). */
export const RESTART_RECONNECT_MAX_MS = 2000;

/** Error codes after which the same frame may be sent again later. */
export function isRetryable(code: string): boolean {
  return code === ErrorCode.Unavailable || code === ErrorCode.RateLimited;
}
