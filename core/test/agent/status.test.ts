// SPDX-License-Identifier: Apache-2.0
/** The status registry: a call's effective state from the latest report of each attach point. */
import type { ProbeStatus } from '@stella/sdk';
import { describe, expect, it } from 'vitest';
import { ProbeStatusRegistry } from '../../src/agent/status.js';

const LIBSSL = '/usr/lib/x86_64-linux-gnu/libssl.so.3';
const call = { plugin: 'tls', service: 'shop', functionId: 'tls/SSL_connect', nodeHash: 'sha256:connect' };
const other = { plugin: 'tls', service: 'shop', functionId: 'tls/SSL_read', nodeHash: 'sha256:read' };

function registry(...calls: (typeof call)[]): ProbeStatusRegistry {
  const r = new ProbeStatusRegistry();
  for (const c of calls.length > 0 ? calls : [call]) r.declare(c);
  return r;
}

function point(attachPoint: string, fields: Omit<ProbeStatus, keyof typeof call | 'attachPoint'>): ProbeStatus {
  return { ...call, attachPoint, resolvedPath: LIBSSL, ...fields };
}

const stateOf = (r: ProbeStatusRegistry, functionId = call.functionId) =>
  r.all().find((s) => s.functionId === functionId);

describe('ProbeStatusRegistry', () => {
  it('a declared call reads declared and counts as neither attached nor failed', () => {
    const r = registry();
    expect(stateOf(r)).toMatchObject({ state: 'declared', observed: false, points: [] });
    expect(r.health()).toEqual({ attached: 0, failed: 0, failureRate: 0 });
  });

  it('an attached point that later fails downgrades the call to failed, with that reason', () => {
    const r = registry();
    r.report(point('8:1@all', { state: 'attached' }));
    expect(stateOf(r)?.state).toBe('attached');
    r.report(point('8:1@all', { state: 'failed', reason: 'attach-error', detail: 'failed to attach uprobe: EINVAL' }));
    expect(stateOf(r)).toMatchObject({ state: 'failed', reason: 'attach-error', attachPoint: '8:1@all' });
    expect(r.health()).toEqual({ attached: 0, failed: 1, failureRate: 1 });
  });

  it('the only attached point released: back to resolvable, not failed', () => {
    const r = registry();
    r.report(point('8:1', { state: 'resolvable' }));
    r.report(point('8:1@pid42', { state: 'attached', pid: 42 }));
    const detail = `released: process 42 left the targets (${LIBSSL} (inode 1))`;
    r.report(point('8:1@pid42', { state: 'detached', pid: 42, detail }));
    expect(stateOf(r)).toMatchObject({ state: 'resolvable', detail });
    expect(stateOf(r)?.points.map((p) => p.attachPoint)).toEqual(['8:1']);
    expect(r.health()).toEqual({ attached: 0, failed: 0, failureRate: 0 });
  });

  it('upgrade: the new inode fails build-id-mismatch; attached while the old link lives, failed once it is released', () => {
    const r = registry();
    r.report(point('8:1@all', { state: 'attached' }));
    r.report(point('8:2', { state: 'failed', reason: 'build-id-mismatch', detail: 'another build' }));
    expect(stateOf(r)?.state).toBe('attached');
    expect(r.health().failed).toBe(0);
    r.report(point('8:1@all', { state: 'detached', detail: `released: no target maps ${LIBSSL} (inode 1) any more` }));
    expect(stateOf(r)).toMatchObject({ state: 'failed', reason: 'build-id-mismatch', detail: 'another build' });
    expect(r.health()).toEqual({ attached: 0, failed: 1, failureRate: 1 });
  });

  it('two points, one released: still attached, with the live point’s fields', () => {
    const r = registry();
    r.report(point('8:1@pid1', { state: 'attached', pid: 1 }));
    r.report(point('8:1@pid2', { state: 'attached', pid: 2 }));
    r.report(point('8:1@pid2', { state: 'detached', pid: 2, detail: 'released' }));
    expect(stateOf(r)).toMatchObject({ state: 'attached', pid: 1, attachPoint: '8:1@pid1' });
    expect(r.health().attached).toBe(1);
  });

  it('released then attached again: attached', () => {
    const r = registry();
    r.report(point('8:1@all', { state: 'attached' }));
    r.report(point('8:1@all', { state: 'detached', detail: 'released' }));
    r.report(point('8:1@all', { state: 'attached' }));
    expect(stateOf(r)?.state).toBe('attached');
    expect(r.health()).toEqual({ attached: 1, failed: 0, failureRate: 0 });
  });

  it('observed reads observed while a point is attached; after all are released the flag stays, health counts none', () => {
    const r = registry();
    r.report(point('8:1@all', { state: 'attached' }));
    r.markObserved(call.service, call.nodeHash);
    expect(stateOf(r)).toMatchObject({ state: 'observed', observed: true });
    expect(r.health().attached).toBe(1);
    r.report(point('8:1@all', { state: 'detached', detail: 'released' }));
    expect(stateOf(r)).toMatchObject({ state: 'resolvable', observed: true });
    expect(r.health()).toEqual({ attached: 0, failed: 0, failureRate: 0 });
    r.report(point('8:9@all', { state: 'attached' }));
    expect(stateOf(r)?.state).toBe('observed');
  });

  it('an observed call whose plugin never reported an attached point reads observed', () => {
    const r = registry();
    r.markObserved(call.service, call.nodeHash);
    expect(stateOf(r)?.state).toBe('observed');
    expect(r.health().attached).toBe(1);
  });

  it('a failure without a point and a later attach: attached (separate implicit points)', () => {
    const r = registry();
    r.report({ ...call, state: 'failed', reason: 'library-absent', detail: 'libssl.so.3 is not there' });
    r.report({ ...call, resolvedPath: LIBSSL, state: 'attached' });
    expect(stateOf(r)?.state).toBe('attached');
    // Same implicit point (plugin, resolvedPath, pid): the latest report wins.
    r.report({ ...call, resolvedPath: LIBSSL, state: 'failed', reason: 'attach-error', detail: 'EINVAL' });
    expect(stateOf(r)).toMatchObject({ state: 'failed', reason: 'attach-error' });
  });

  it('health per service and category counts effective states; failureRate = failed ÷ (attached + failed)', () => {
    const auth = { plugin: 'auth', service: 'shop', functionId: 'auth/pam_authenticate', nodeHash: 'sha256:pam' };
    const elsewhere = { ...call, service: 'billing' };
    const r = registry(call, other, auth, elsewhere);
    r.report(point('8:1@all', { state: 'attached' }));
    r.report({ ...other, attachPoint: '8:1@all', state: 'attached' });
    r.report({ ...other, attachPoint: '8:1@all', state: 'detached', detail: 'released' });
    r.report({ ...other, attachPoint: '8:2', state: 'failed', reason: 'build-id-mismatch' });
    r.report({ ...auth, attachPoint: '8:3@all', state: 'attached' });
    r.report({ ...elsewhere, attachPoint: '8:1@all', state: 'failed', reason: 'symbol-missing' });
    expect(r.health('shop')).toEqual({ attached: 2, failed: 1, failureRate: 1 / 3 });
    expect(r.health('shop', 'tls')).toEqual({ attached: 1, failed: 1, failureRate: 0.5 });
    expect(r.health('shop', 'auth')).toEqual({ attached: 1, failed: 0, failureRate: 0 });
    expect(r.health()).toEqual({ attached: 2, failed: 2, failureRate: 0.5 });
    expect(r.all()).toHaveLength(4);
  });

  it('listeners get each report as sent, the point included', () => {
    const r = registry();
    const seen: ProbeStatus[] = [];
    const off = r.onReport((s) => seen.push(s));
    r.report(point('8:1@all', { state: 'attached' }));
    r.report(point('8:1@all', { state: 'detached', detail: 'released' }));
    off();
    r.report(point('8:1@all', { state: 'attached' }));
    expect(seen.map((s) => [s.state, s.attachPoint])).toEqual([
      ['attached', '8:1@all'],
      ['detached', '8:1@all'],
    ]);
  });

  it('two plugins may use the same point id for one call without overwriting each other', () => {
    const r = registry();
    r.report(point('8:1@all', { state: 'attached' }));
    r.report({ ...call, plugin: 'other', attachPoint: '8:1@all', state: 'failed', reason: 'plugin-error' });
    expect(stateOf(r)?.state).toBe('attached');
    expect(stateOf(r)?.points).toHaveLength(2);
  });
});
