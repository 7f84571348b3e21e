// SPDX-License-Identifier: Apache-2.0
/**
 * Which driver errors mean "the server is not there right now" (retry later) rather than "this
 * batch is wrong" (retrying cannot help). Network errnos, PostgreSQL SQLSTATE classes 08 (connection
 * exception) and 57P (operator intervention: shutdown, crash recovery), 53 (insufficient resources),
 * the drivers' own "connection closed" messages, and a Valkey Cluster in the middle of a failover
 * (CLUSTERDOWN, TRYAGAIN, READONLY from a demoted primary, MASTERDOWN, redirections that did not
 * settle, no reachable seed).
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

export function isConnectionError(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string') {
    if (NETWORK_CODES.has(code)) return true;
    if (/^(08|57P|53)/.test(code)) return true;
  }
  const nested = (error as { errors?: unknown[] }).errors; // AggregateError from happy-eyeballs connects
  if (Array.isArray(nested) && nested.some(isConnectionError)) return true;
  return /Connection terminated|connection timeout|timeout exceeded when trying to connect|Client has encountered a connection error|Connection is closed|connect ETIMEDOUT|Stream isn't writeable|MaxRetriesPerRequest|LOADING|^(CLUSTERDOWN|TRYAGAIN|READONLY|MASTERDOWN)\b|Too many Cluster redirections|Command aborted due to connection close|Failed to refresh slots cache|None of startup nodes is available|Cluster isn't ready/i.test(
    error.message,
  );
}
