// SPDX-License-Identifier: Apache-2.0
/** The uprobe session's point bookkeeping: one report per change, detached reports when places go away. */
import type { ProbeRequest, ProbeStatus } from '@stella/sdk';
import { describe, expect, it } from 'vitest';
import { AttachPointStatuses, filePoint, linkPoint, releaseDetail } from '../src/attach-points.js';

const request: ProbeRequest = {
  service: 'shop',
  functionId: 'tls/SSL_connect',
  category: 'tls',
  symbol: 'SSL_connect',
  library: 'libssl.so.3',
  binaryPath: '/usr/lib/x86_64-linux-gnu/libssl.so.3',
  nodeHash: 'sha256:connect',
  probeTypes: ['uprobe'],
};
const file = { key: '8:1234', path: request.binaryPath, inode: 1234n };

function statuses() {
  const sent: ProbeStatus[] = [];
  return { sent, points: new AttachPointStatuses({ reportStatus: (s) => sent.push(s) }, 'tls') };
}

describe('AttachPointStatuses', () => {
  it('names file and link points by dev:inode (and pid, or @all for a global link)', () => {
    expect(filePoint(file).id).toBe('8:1234');
    expect(linkPoint(file, 42).id).toBe('8:1234@pid42');
    expect(linkPoint(file, -1).id).toBe('8:1234@all');
  });

  it('reports a point once per state, and again after it changed: failed, attached, released, failed', () => {
    const { sent, points } = statuses();
    const link = linkPoint(file, -1);
    const fail = { state: 'failed', reason: 'attach-error', detail: 'failed to attach uprobe: EBUSY' } as const;
    points.report(0, request, link, fail);
    points.report(0, request, link, fail); // the next rescan retries and fails alike: not reported again
    points.report(0, request, link, { state: 'attached' });
    points.release(
      () => true,
      (p) => releaseDetail(p, false),
    );
    points.report(0, request, link, fail);
    expect(sent.map((s) => s.state)).toEqual(['failed', 'attached', 'detached', 'failed']);
    expect(sent.every((s) => s.attachPoint === '8:1234@all' && s.plugin === 'tls')).toBe(true);
    expect(sent[2]?.detail).toBe(`released: no target maps ${request.binaryPath} (inode 1234) any more`);
  });

  it('releases only the points selected, with a sentence naming the process that left', () => {
    const { sent, points } = statuses();
    points.report(0, request, filePoint(file), { state: 'resolvable' });
    points.report(0, request, linkPoint(file, 7), { state: 'attached', pid: 7 });
    points.report(0, request, linkPoint(file, 8), { state: 'attached', pid: 8 });
    points.release(
      (p) => p.pid === 7,
      (p) => releaseDetail(p, true),
    );
    const released = sent.filter((s) => s.state === 'detached');
    expect(released).toEqual([
      expect.objectContaining({
        attachPoint: '8:1234@pid7',
        pid: 7,
        resolvedPath: request.binaryPath,
        detail: `released: process 7 left the targets (${request.binaryPath} (inode 1234))`,
      }),
    ]);
    points.release(
      (p) => p.pid === 7,
      () => 'again',
    );
    expect(sent.filter((s) => s.state === 'detached')).toHaveLength(1);
  });
});
