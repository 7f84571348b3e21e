// SPDX-License-Identifier: Apache-2.0
import { existsSync, promises as fs, statSync } from 'node:fs';
import path from 'node:path';
import { pathHash } from '../../../core/src/function-map/index.js';
import { libsslCall, libsslCallMap } from '../../support/maps.js';

export interface OneCallPath {
  pathId: string;
  /** A libssl.so.3 symbol: the path's one required call. */
  symbol: string;
  tags: string[];
}

/** A Function Map V1 for `service` whose required paths are each one call into libssl.so.3. */
export function libsslPathsMap(service: string, paths: OneCallPath[], windowSeconds = 600): unknown {
  const map = libsslCallMap(service, 'SSL_do_handshake', windowSeconds) as {
    predicate: { expectedPaths: Array<Record<string, unknown> & { entrypoint: { nodeHash: string } }> };
  };
  const [template] = map.predicate.expectedPaths;
  map.predicate.expectedPaths = paths.map(({ pathId, symbol, tags }) => {
    const call = libsslCall(symbol);
    return {
      ...template!,
      pathId,
      tags,
      expectedCalls: [call],
      pathHash: pathHash([template!.entrypoint.nodeHash, call.nodeHash]),
    };
  });
  return map;
}

/** The cgroup v2 hierarchy: `/sys/fs/cgroup` on a unified host, its `unified/` mount on a hybrid one. */
export function cgroupV2Root(): string | undefined {
  if (existsSync('/sys/fs/cgroup/cgroup.controllers')) return '/sys/fs/cgroup';
  if (existsSync('/sys/fs/cgroup/unified/cgroup.procs')) return '/sys/fs/cgroup/unified';
  return undefined;
}

/** A cgroup of its own for one node's workload; `id` is what `targets[].cgroups` takes. */
export interface WorkloadCgroup {
  dir: string;
  /** The cgroup id (its directory's inode), as a decimal string. */
  id: string;
  /** Moves a running process into it. */
  add(pid: number): Promise<void>;
  /** Removes it (its processes must have exited). */
  remove(): Promise<void>;
}

export async function createCgroup(root: string, name: string): Promise<WorkloadCgroup> {
  const dir = path.join(root, name);
  await fs.mkdir(dir);
  return {
    dir,
    id: String(statSync(dir, { bigint: true }).ino),
    add: (pid) => fs.writeFile(path.join(dir, 'cgroup.procs'), String(pid)),
    async remove() {
      for (let i = 0; i < 50; i++) {
        try {
          await fs.rmdir(dir);
          return;
        } catch {
          await new Promise((r) => setTimeout(r, 100)); // the last process is still being reaped
        }
      }
    },
  };
}
