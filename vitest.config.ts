// SPDX-License-Identifier: Apache-2.0
import { defineConfig } from 'vitest/config';

export default defineConfig({
  resolve: {
    // Workspace packages resolve to their TypeScript sources in tests (see package.json "exports").
    conditions: ['stella-source'],
  },
  ssr: { resolve: { conditions: ['stella-source'], externalConditions: ['stella-source'] } },
  test: {
    include: ['**/test/**/*.test.ts'],
    exclude: ['**/node_modules/**', '**/dist/**', '**/fixtures/**'],
    // Native addon + BPF: separate processes, not worker threads. One test file at a time: the
    // end-to-end tests share one kernel (uprobes on the same libssl, node and libc inodes,
    // bpftrace baselines, agents claiming every curl by executable), and two at once made a
    // TLS-clients run see no uprobe hits at all and hang in detach on this 2-vCPU machine.
    pool: 'forks',
    maxWorkers: 1,
    testTimeout: 60_000,
    hookTimeout: 120_000,
    globalSetup: ['./test/support/global-setup.ts'],
  },
});
