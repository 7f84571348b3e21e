// SPDX-License-Identifier: Apache-2.0
/** Shared test plumbing: build the artefacts, run the fixture workload, skip only without root. */
import { type ChildProcessWithoutNullStreams, execFileSync, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { ATTACH_COOKIES_MISSING, detectKernelFeatures } from '../src/features.js';

export const bpfDir = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const fixtureObject = join(bpfDir, 'test', 'fixtures', 'fixture.bpf.o');
export const callTarget = join(bpfDir, 'build', 'fixtures', 'call_target');
export const fixtureSymbol = 'stella_fixture_work';

/** Why no BPF test can run here (they need root and BTF), or undefined. */
export function bpfRootReason(): string | undefined {
  if (process.getuid?.() !== 0) return 'BPF tests need root (CAP_BPF, CAP_PERFMON, CAP_SYS_ADMIN); running as non-root';
  if (!existsSync('/sys/kernel/btf/vmlinux')) return 'the kernel has no BTF (/sys/kernel/btf/vmlinux)';
  return undefined;
}

/** Why the fixture object's uprobe tests cannot run here, or undefined when they can. */
export function bpfUnavailableReason(): string | undefined {
  // The fixture object's uprobe program reads its attach cookie: with it, the object fails to load.
  return bpfRootReason() ?? (attachCookiesMissing() ? ATTACH_COOKIES_MISSING : undefined);
}

export function attachCookiesMissing(): boolean {
  return detectKernelFeatures({ mountTracefs: false }).attachCookies === false;
}

/** The fixture's programs that read an attach cookie: switched off before Linux 5.15. */
export const COOKIE_PROGRAMS = [
  'stella_uprobe_call',
  'stella_uprobe_presence',
  'stella_uretprobe_call',
  'fixture_sys_enter_getppid',
];

/** Incremental build of objects, addon and fixtures (a no-op when up to date). */
export function ensureBuilt(): void {
  execFileSync(process.execPath, [join(bpfDir, 'scripts', 'build.mjs'), '--quiet'], { stdio: 'inherit' });
}

/** The fixture program: `ready <pid>` first, then one `done N` per command. */
export class Workload {
  readonly child: ChildProcessWithoutNullStreams;
  readonly #lines: string[] = [];
  readonly #waiters: ((line: string) => void)[] = [];

  private constructor(binary: string) {
    this.child = spawn(binary, [], { stdio: 'pipe' });
    createInterface({ input: this.child.stdout }).on('line', (line) => {
      const waiter = this.#waiters.shift();
      if (waiter) waiter(line);
      else this.#lines.push(line);
    });
  }

  /** `binary`: the fixture itself, or a link to it (whose name becomes the process's comm). */
  static async start(binary = callTarget): Promise<Workload> {
    const w = new Workload(binary);
    const ready = await w.nextLine();
    if (!ready.startsWith('ready ')) throw new Error(`unexpected fixture output: ${ready}`);
    return w;
  }

  get pid(): number {
    return this.child.pid!;
  }

  nextLine(): Promise<string> {
    const line = this.#lines.shift();
    if (line !== undefined) return Promise.resolve(line);
    return new Promise((resolveLine) => this.#waiters.push(resolveLine));
  }

  /** Sends a command and resolves with the number after `done`. */
  async run(command: string): Promise<number> {
    this.child.stdin.write(`${command}\n`);
    const line = await this.nextLine();
    const m = /^done (\d+)$/.exec(line);
    if (!m) throw new Error(`unexpected fixture output: ${line}`);
    return Number(m[1]);
  }

  /** Starts `spin`; resolves with the exact number of calls once `stopSpin()` is called. */
  spin(): { stopSpin: () => Promise<number> } {
    this.child.stdin.write('spin\n');
    return {
      stopSpin: async () => {
        this.child.stdin.write('stop\n');
        const line = await this.nextLine();
        return Number(/^done (\d+)$/.exec(line)?.[1] ?? Number.NaN);
      },
    };
  }

  async end(): Promise<void> {
    if (this.child.exitCode !== null) return;
    const exited = new Promise((r) => this.child.once('exit', r));
    this.child.stdin.end();
    await exited;
  }
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls `fn` until it returns true or `timeoutMs` passes. */
export async function waitFor(fn: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!fn()) {
    if (Date.now() > deadline) return;
    await sleep(10);
  }
}
