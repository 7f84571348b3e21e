// SPDX-License-Identifier: Apache-2.0
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const repo = fileURLToPath(new URL('../..', import.meta.url));

/**
 * Runs once before the suite: brings the BPF objects, the addon and the compiled CLI up to date
 * (both builds are incremental: a no-op when nothing changed), so end-to-end tests can run the
 * real `stella` binary as a subprocess.
 */
export default function setup(): void {
  // Kernel-matrix guests run the host's build: rebuilding there would cost minutes under qemu.
  if (process.env.STELLA_PREBUILT === '1') return;
  execFileSync(process.execPath, ['bpf/scripts/build.mjs', '--quiet'], { cwd: repo, stdio: 'inherit' });
  // Each plugin builds its own objects with the SDK's helper (what `npm run build:bpf` runs).
  const plugins = ['probes-crypto', 'probes-net', 'probes-auth', 'probes-file'].map((p) => `plugins/${p}`);
  execFileSync(
    process.execPath,
    [
      'plugins/sdk/scripts/build-bpf.mjs',
      '--quiet',
      ...plugins,
      'examples/third-party-plugin',
      'examples/syscall-plugin',
    ],
    { cwd: repo, stdio: 'inherit' },
  );
  execFileSync(process.execPath, ['node_modules/typescript/bin/tsc', '-b', 'tsconfig.build.json'], {
    cwd: repo,
    stdio: 'inherit',
  });
}
