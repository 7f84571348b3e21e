// SPDX-License-Identifier: Apache-2.0
import { Cluster, type ClusterOptions, type RedisOptions, Redis as Valkey } from 'iovalkey';
import type { ValkeyStoreOptions } from './types.js';
import { APPLY_SERVICE_CHUNK } from './valkey-layout.js';

/** The commands the store uses, on either a single server or a cluster client. */
export type ValkeyClient = (Valkey | Cluster) & {
  stellaApply(...args: (string | number)[]): Promise<number>;
};

/** Seed nodes of a cluster, parsed from `host:port` (the config schema checks the shape). */
export function clusterSeeds(nodes: readonly string[]): { host: string; port: number }[] {
  return nodes.map((n) => {
    const cut = n.lastIndexOf(':');
    return { host: n.slice(0, cut).replace(/^\[|\]$/g, ''), port: Number(n.slice(cut + 1)) };
  });
}

/** Where we connect, for logs and errors: never the password. */
export function describeValkeyTarget(o: ValkeyStoreOptions): string {
  if (o.clusterNodes?.length) return `valkey cluster ${o.clusterNodes.join(',')}`;
  const url = o.url ?? process.env.STELLA_VALKEY_URL;
  if (url) {
    try {
      const u = new URL(url);
      return `valkey ${u.hostname}:${u.port || 6379}/${u.pathname.slice(1) || 0}`;
    } catch {
      return 'valkey (unparsable url)';
    }
  }
  return `valkey ${o.host ?? '127.0.0.1'}:${o.port ?? 6379}/${o.db ?? 0}`;
}

/**
 * Fails fast while a server is away (no offline queue, no silent resend) so the writer above decides
 * what to keep; reconnects on its own. A cluster client also follows MOVED/ASK and refreshes its
 * slot map after a failover; what still fails during the election surfaces as unavailable.
 */
export function createValkeyClient(o: ValkeyStoreOptions): ValkeyClient {
  const common: RedisOptions = {
    lazyConnect: true,
    autoResendUnfulfilledCommands: false,
    maxRetriesPerRequest: 0,
    connectTimeout: o.connectTimeoutMs ?? 5000,
  };
  const backoff = (times: number) => Math.min(100 * 2 ** Math.min(times, 6), 5000);
  let client: Valkey | Cluster;
  if (o.clusterNodes?.length) {
    const options: ClusterOptions = {
      lazyConnect: true,
      enableOfflineQueue: false,
      clusterRetryStrategy: backoff,
      // A command to a primary that just died is retried this soon, up to maxRedirections (16)
      // times, so it fails within about half a second: the election takes seconds, and the writer
      // above backs off and holds the batch better than a command parked inside the client.
      retryDelayOnFailover: 25,
      retryDelayOnClusterDown: 50,
      retryDelayOnTryAgain: 50,
      slotsRefreshTimeout: 2000,
      redisOptions: { ...common, ...(o.password ? { password: o.password } : {}) },
    };
    client = new Cluster(clusterSeeds(o.clusterNodes), options);
  } else {
    const options: RedisOptions = { ...common, enableOfflineQueue: false, retryStrategy: backoff };
    const url = o.url ?? process.env.STELLA_VALKEY_URL;
    if (!url) {
      options.host = o.host ?? '127.0.0.1';
      options.port = o.port ?? 6379;
      options.db = o.db ?? 0;
    }
    if (o.password && !(url && /^[^:]+:\/\/[^@/]*:[^@/]*@/.test(url))) options.password = o.password;
    if (url?.startsWith('valkey')) options.tls = url.startsWith('valkeys') ? {} : undefined;
    const normalizedUrl = url?.replace(/^valkey(s?):/, 'redis$1:');
    client = normalizedUrl ? new Valkey(normalizedUrl, options) : new Valkey(options);
  }
  // No numberOfKeys: the first argument says how many keys follow (a chunk names its bucket hashes).
  client.defineCommand('stellaApply', { lua: APPLY_SERVICE_CHUNK });
  return client as ValkeyClient;
}
