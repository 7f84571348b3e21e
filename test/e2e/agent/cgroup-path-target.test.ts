// SPDX-License-Identifier: Apache-2.0
/**
 * A target given as a cgroup *path* (not its numeric id) on this host's real cgroup v2 hierarchy,
 * wherever it is mounted (`/sys/fs/cgroup`, or `/sys/fs/cgroup/unified` on a hybrid v1/v2 host):
 * a process that joins the cgroup after the agent started is counted exactly as bpftrace counts it
 * in the same cgroup, and the same workload outside the cgroup is not counted at all.
 */
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { bpftraceCount, canBpf, drive, hits, LIBDIR, startAgent, stopDriven } from '../probes/support.js';
import { cgroupV2Root, createCgroup } from '../stores/fleet-support.js';

const CRYPTO_PURL = 'pkg:deb/debian/libssl3@3.0.11?arch=amd64';
const DIGESTS = 400;
const cgroupRoot = cgroupV2Root();
if (!canBpf) console.warn('[skip] cgroup path target e2e: needs root for BPF and cgroups');
else if (!cgroupRoot) console.warn('[skip] cgroup path target e2e: no cgroup v2 hierarchy mounted');

describe.skipIf(!canBpf || !cgroupRoot)('a target named by cgroup path', () => {
  afterAll(stopDriven);

  it('counts exactly the calls made inside the cgroup, and none from outside it', async () => {
    const name = `stella-cgpath-${process.pid}`;
    const cgroup = await createCgroup(cgroupRoot!, name);
    const agent = await startAgent({
      service: 'by-path',
      calls: [
        {
          function: 'crypto/EVP_DigestUpdate',
          library: 'libcrypto.so.3',
          binaryPath: `${LIBDIR}/libcrypto.so.3`,
          purl: CRYPTO_PURL,
        },
      ],
      // The path as /proc/<pid>/cgroup writes it, relative to the hierarchy's root.
      targets: [`{service: by-path, cgroups: ["/${name}"]}`],
      probes: '{max_concurrent: 256, attach_timeout_ms: 5000, sampling_rate: 1.0, mode: count}',
    });
    let stopped = false;
    try {
      const inside = await bpftraceCount(
        [`uprobe:${LIBDIR}/libcrypto.so.3:EVP_DigestUpdate`],
        `cgroup == ${cgroup.id}`,
      );
      const script = [
        'import hashlib',
        'h = hashlib.sha256()',
        `for _ in range(${DIGESTS}): h.update(b"x")`,
        'print("done", flush=True)',
      ].join('\n');
      // Both start after the agent: only the in-kernel cgroup rule can claim the first one.
      const member = drive('sh', [
        '-c',
        `echo $$ > ${join(cgroup.dir, 'cgroup.procs')} && exec python3 -c "$0"`,
        script,
      ]);
      const outsider = drive('python3', ['-c', script]);
      await Promise.all([member.line('done'), outsider.line('done')]);
      await Promise.all([member.exited, outsider.exited]);
      const expected = await inside.stop();
      await new Promise((r) => setTimeout(r, 400));
      stopped = true;
      const observations = await agent.stop();
      expect(expected).toBeGreaterThanOrEqual(DIGESTS);
      expect(hits(observations, 'crypto/EVP_DigestUpdate', member.pid)).toBe(expected);
      expect(hits(observations, 'crypto/EVP_DigestUpdate', outsider.pid)).toBe(0);
      expect(observations.every((o) => o.service === 'by-path')).toBe(true);
    } finally {
      if (!stopped) await agent.stop().catch(() => undefined);
      await cgroup.remove();
    }
  }, 60_000);
});
