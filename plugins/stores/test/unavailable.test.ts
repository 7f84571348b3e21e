// SPDX-License-Identifier: Apache-2.0
import { ReplyError } from 'iovalkey';
import { describe, expect, it } from 'vitest';
import { isConnectionError, isStaleClusterRoute } from '../src/unavailable.js';

/** A server reply as the Valkey client hands it over (its ReplyError, message = the reply minus "-"). */
const reply = (message: string): Error => new ReplyError(message) as Error;

describe('which store errors mean "retry later"', () => {
  it('a Valkey Cluster failover: replies from a node that no longer serves the slot as primary', () => {
    // Each verbatim from valkey-server 8.0. The first two are what the failover test's pipelines got
    // from a restarted former primary (MOVED for the script, beside WAIT's own reply); before this
    // they were rejections, and the writer dropped every batch until close() gave up.
    const stale = [
      'MOVED 4846 127.0.0.1:28776',
      'ERR WAIT cannot be used with replica instances. Please also note that if a replica is configured to be writable (which is not the default) writes to replicas are just local and are not propagated.',
      'UNBLOCKED force unblock from blocking operation, instance state changed (master -> replica?)',
      'ASK 3999 10.0.0.7:6379',
    ];
    for (const message of stale) {
      expect(isStaleClusterRoute(reply(message)), message).toBe(true);
      expect(isConnectionError(reply(message)), message).toBe(true);
    }
  });

  it('what was unavailable before stays so', () => {
    for (const message of [
      'Connection is closed.',
      'CLUSTERDOWN The cluster is down',
      "READONLY You can't write against a read only replica.",
      'Too many Cluster redirections. Last error: Error: Connection is closed.',
      "Cluster isn't ready and enableOfflineQueue options is false",
    ])
      expect(isConnectionError(new Error(message)), message).toBe(true);
    expect(
      isConnectionError(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' })),
    ).toBe(true);
  });

  it('a batch the server refuses for what it is stays a rejection (dropped after its attempts)', () => {
    for (const message of [
      "CROSSSLOT Keys in request don't hash to the same slot",
      'WRONGTYPE Operation against a key holding the wrong kind of value',
      'ERR Error running script (call to f_c96936b6): @user_script:12: bad argument',
      'OOM command not allowed when used memory > maxmemory.',
      // Prose that merely starts like a reply is not one.
      'MOVED to a new host',
      'moved 4846 127.0.0.1:28776',
      'ERR unknown command `WAIT`',
    ]) {
      expect(isStaleClusterRoute(reply(message)), message).toBe(false);
      expect(isConnectionError(reply(message)), message).toBe(false);
    }
    expect(isStaleClusterRoute('MOVED 1 a:1')).toBe(false); // not an Error
  });
});
