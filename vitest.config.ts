// SPDX-License-Identifier: Apache-2.0
import { defineConfig } from 'vitest/config';

/**
 * Where a test lives decides its project, so a new test lands in the right one without a rename:
 * the kernel project holds what needs root, BPF objects, the addon, a compiled CLI, servers or
 * real workloads; everything else is a unit test that runs anywhere (any user, no clang, no kernel
 * features) in seconds. `npx vitest run --project unit` is `npm run test:unit`.
 */
const KERNEL_TESTS = [
  'test/e2e/**/*.test.ts',
  'bpf/test/**/*.test.ts',
  'plugins/probes-*/test/**/*.test.ts',
  // Elsewhere, a test that needs the kernel says so in its name.
  '**/test/**/*-kernel.test.ts',
  // Runs placement on the compiled worker thread the kernel project's set-up builds.
  'plugins/sdk/test/placement.test.ts',
  // Mounts a small tmpfs to fill the disk for real: root.
  'core/test/export/full-disk.test.ts',
];

export default defineConfig({
  resolve: {
    // Workspace packages resolve to their TypeScript sources in tests (see package.json "exports").
    conditions: ['stella-source'],
  },
  ssr: { resolve: { conditions: ['stella-source'], externalConditions: ['stella-source'] } },
  test: {
    exclude: ['**/node_modules/**', '**/dist/**', '**/fixtures/**'],
    projects: [
      {
        extends: true,
        test: {
          name: 'unit',
          // `vitest run` with both projects: the unit tests first, then the kernel tests alone.
          sequence: { groupOrder: 0 },
          include: ['**/test/**/*.test.ts'],
          exclude: ['**/node_modules/**', '**/dist/**', '**/fixtures/**', ...KERNEL_TESTS],
          testTimeout: 20_000,
        },
      },
      {
        extends: true,
        test: {
          name: 'kernel',
          include: KERNEL_TESTS,
          sequence: { groupOrder: 1 },
          // Native addon + BPF: separate processes, not worker threads. One test file at a time: the
          // end-to-end tests share one kernel (uprobes on the same libssl, node and libc inodes,
          // bpftrace baselines, agents claiming every curl by executable), and two at once made a
          // TLS-clients run see no uprobe hits at all and hang in detach on this 2-vCPU machine.
          pool: 'forks',
          maxWorkers: 1,
          fileParallelism: false,
          testTimeout: 60_000,
          hookTimeout: 120_000,
          // Only this project builds the BPF objects, the addon and the compiled CLI first.
          globalSetup: ['./test/support/global-setup.ts'],
        },
      },
    ],
  },
});
