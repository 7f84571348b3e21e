// SPDX-License-Identifier: Apache-2.0
import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const REPO = fileURLToPath(new URL('../..', import.meta.url));
export const STELLA_BIN = fileURLToPath(new URL('../../core/bin/stella.js', import.meta.url));

export interface RunningCli {
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** Resolves when a stderr/stdout line matches, rejects when the process exits first. */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<string>;
  exited: Promise<number | null>;
}

/** CLI subprocesses still running; killed when the test process exits, even after a failure. */
const running = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

/**
 * Runs the compiled `stella` CLI as a subprocess, the way users and CI run it. `wrapper` is a
 * command line put in front of node (e.g. `setpriv …` to drop privileges).
 */
export function startStella(
  args: string[],
  options: { env?: NodeJS.ProcessEnv; cwd?: string; wrapper?: string[] } = {},
): RunningCli {
  const [command, ...prefix] = [...(options.wrapper ?? []), process.execPath];
  const child = spawn(command!, [...prefix, STELLA_BIN, ...args], {
    cwd: options.cwd ?? REPO,
    env: { ...process.env, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  running.add(child);
  child.once('exit', () => running.delete(child));
  let out = '';
  let err = '';
  const waiters: { pattern: RegExp; resolve: (line: string) => void }[] = [];
  const check = () => {
    for (const w of [...waiters]) {
      const m = (err + out).split('\n').find((line) => w.pattern.test(line));
      if (m !== undefined) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(m);
      }
    }
  };
  child.stdout?.on('data', (d) => {
    out += String(d);
    check();
  });
  child.stderr?.on('data', (d) => {
    err += String(d);
    check();
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return {
    child,
    stdout: () => out,
    stderr: () => err,
    exited,
    waitFor(pattern, timeoutMs = 30_000) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`timed out waiting for ${pattern}\nstderr:\n${err}`)),
          timeoutMs,
        );
        waiters.push({
          pattern,
          resolve: (line) => {
            clearTimeout(timer);
            resolve(line);
          },
        });
        check();
        void exited.then((code) => {
          clearTimeout(timer);
          reject(new Error(`stella exited (${code}) before printing ${pattern}\nstderr:\n${err}`));
        });
      });
    },
  };
}

/** Runs `stella …` to completion. */
export async function runStella(
  args: string[],
  options: { env?: NodeJS.ProcessEnv; cwd?: string; wrapper?: string[] } = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const running = startStella(args, options);
  const code = await running.exited;
  return { code, stdout: running.stdout(), stderr: running.stderr() };
}
