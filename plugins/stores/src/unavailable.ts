// SPDX-License-Identifier: Apache-2.0
/**
 * Which driver errors mean "the server is not there right now" (retry later) rather than "this
 * batch is wrong" (retrying cannot help). Network errnos, PostgreSQL SQLSTATE classes 08 (connection
 * exception) and 57P (operator intervention: shutdown, crash recovery), 53 (insufficient resources),
 * the drivers' own "connection closed" messages, and a Valkey Cluster in the middle of a failover
 * (CLUSTERDOWN, TRYAGAIN, READONLY from a demoted primary, MASTERDOWN, redirections that did not
 * settle, no reachable seed).
 *
 * A redirection (MOVED, ASK) or a node that turned into a replica (UNBLOCKED for a WAIT it was
 * blocked in, "WAIT cannot be used with replica instances") reaches the store when a cluster
 * pipeline mixes them with other replies: the client then neither follows nor refreshes its slot
 * map. The batch is fine; the routing is stale, so it is retried (after a slot refresh), not dropped.
 */
const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
  'ENOTFOUND',
  'ENOTCONN',
]);

/**
 * Valkey's own replies (seen from valkey-server 8.0 during a failover test) saying the command went
 * to a node that no longer serves its slot as primary: a redirection, a WAIT that was blocked on a
 * primary when it was demoted, a WAIT sent to what is now a replica. Case-sensitive and anchored:
 * these are server replies, not prose.
 */
const STALE_ROUTE =
  /^(?:(?:MOVED|ASK) \d+ \S+$|UNBLOCKED force unblock from blocking operation, instance state changed\b|ERR WAIT cannot be used with replica instances\b)/;

/** True when a Valkey Cluster reply means the client's slot map is out of date (see above). */
export function isStaleClusterRoute(error: unknown): boolean {
  return error instanceof Error && STALE_ROUTE.test(error.message);
}

export function isConnectionError(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string') {
    if (NETWORK_CODES.has(code)) return true;
    if (/^(08|57P|53)/.test(code)) return true;
  }
  if (isStaleClusterRoute(error)) return true;
  const nested = (error as { errors?: unknown[] }).errors; // AggregateError from happy-eyeballs connects
  if (Array.isArray(nested) && nested.some(isConnectionError)) return true;
  return /Connection terminated|connection timeout|timeout exceeded when trying to connect|Client has encountered a connection error|Connection is closed|connect ETIMEDOUT|Stream isn't writeable|MaxRetriesPerRequest|LOADING|^(CLUSTERDOWN|TRYAGAIN|READONLY|MASTERDOWN)\b|Too many Cluster redirections|Command aborted due to connection close|Failed to refresh slots cache|None of startup nodes is available|Cluster isn't ready/i.test(
    error.message,
  );
}
