// SPDX-License-Identifier: Apache-2.0
/**
 * One process that calls the crypto and auth catalogues' functions on this machine's libssl,
 * libcrypto, libgnutls, libsodium and libpam (`workloads/catalogue_workload.py`), and the requests
 * an agent would make for those functions. Placement's kernel test and the plugins' exact-count
 * tests both drive it, each against a bpftrace count on the same pid.
 */
import { type ChildProcessWithoutNullStreams, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readElfSymbols } from './elf.js';
import type { CatalogueEntry } from './types/catalogue.js';
import type { Observation } from './types/observation.js';
import type { ProbeRequest, ProbeStatus } from './types/probe-requests.js';

/** The same path from src/ and dist/: the script ships in src/, which the package publishes. */
export const CATALOGUE_WORKLOAD = fileURLToPath(new URL('../src/workloads/catalogue_workload.py', import.meta.url));

/** Debian's multiarch library directory, where the five libraries live here. */
export const SYSTEM_LIBRARY_DIR = '/usr/lib/x86_64-linux-gnu';

export type WorkloadPart = 'tls' | 'gnutls' | 'sodium' | 'pam';

/** Which part of the workload calls a library's catalogue functions. */
export const WORKLOAD_PART_OF: Readonly<Record<string, WorkloadPart>> = {
  'libssl.so.3': 'tls',
  'libcrypto.so.3': 'tls',
  'libgnutls.so.30': 'gnutls',
  'libsodium.so.23': 'sodium',
  'libpam.so.0': 'pam',
};

/**
 * Catalogue functions present in these libraries that the workload does not call, and why. A test
 * that finds one of them counted, or another function uncounted, fails: the list stays true.
 * Empty on Debian 12: the workload reaches every one (gnutls_handshake and the record calls fail
 * at once on a session without credentials or transport, after entering the function).
 */
export const WORKLOAD_UNREACHED: Readonly<Record<string, string>> = {};

/** The certificate, key and PAM service the workload needs; `remove()` deletes all three. */
export interface WorkloadFiles {
  cert: string;
  key: string;
  pamService: string;
  remove(): void;
}

/**
 * A throwaway self-signed ECDSA P-256 certificate for `localhost` in `dir` (`cert.pem`, `key.pem`):
 * what a TLS peer on loopback needs to handshake through the machine's libssl, no network.
 */
export function writeSelfSignedCertificate(dir: string): { cert: string; key: string } {
  const cert = join(dir, 'cert.pem');
  const key = join(dir, 'key.pem');
  execFileSync(
    'openssl',
    ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '7'].concat([
      '-subj',
      '/CN=localhost',
      '-addext',
      'subjectAltName=DNS:localhost',
      '-keyout',
      key,
      '-out',
      cert,
    ]),
    { stdio: 'ignore' },
  );
  return { cert, key };
}

/** An ECDSA P-256 certificate in a temporary directory and a pam_permit-only PAM service. */
export function createWorkloadFiles(): WorkloadFiles {
  const dir = mkdtempSync(join(tmpdir(), 'stella-catalogue-workload-'));
  const { cert, key } = writeSelfSignedCertificate(dir);
  const pamService = `stella-workload-${process.pid}`;
  const pamFile = `/etc/pam.d/${pamService}`;
  writeFileSync(
    pamFile,
    'auth required pam_permit.so\naccount required pam_permit.so\nsession required pam_permit.so\npassword required pam_permit.so\n',
  );
  return {
    cert,
    key,
    pamService,
    remove() {
      rmSync(pamFile, { force: true });
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Why the workload cannot run here, or undefined. */
export function workloadUnavailable(python: string): string | undefined {
  for (const tool of [python, 'openssl']) {
    try {
      execFileSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' });
    } catch {
      return `${tool} is not installed`;
    }
  }
  if (!existsSync('/etc/pam.d')) return '/etc/pam.d is missing (the pam part needs a service of its own)';
  return undefined;
}

/**
 * Starts the workload; it waits for a line on stdin before its first call, makes `calls` rounds
 * of each part, prints `done` and exits.
 */
export function startCatalogueWorkload(
  python: string,
  parts: readonly WorkloadPart[],
  calls: number,
  files: WorkloadFiles,
): ChildProcessWithoutNullStreams {
  return spawn(python, [CATALOGUE_WORKLOAD, parts.join(','), String(calls), files.cert, files.key, files.pamService], {
    stdio: 'pipe',
  });
}

/** Lets a started workload make its calls; resolves with its output once it exited 0. */
export function runCatalogueWorkload(child: ChildProcessWithoutNullStreams): Promise<string> {
  let output = '';
  child.stdout.on('data', (d) => {
    output += String(d);
  });
  child.stderr.on('data', (d) => {
    output += String(d);
  });
  return new Promise((resolve, reject) => {
    child.once('exit', (code, signal) => {
      if (code === 0 && output.includes('done')) resolve(output);
      else reject(new Error(`catalogue workload exited ${code ?? signal}: ${output}`));
    });
    child.stdin.end('go\n');
  });
}

/** The catalogue's functions for `library`, one per symbol, in catalogue order. */
export function catalogueSymbols(catalogue: readonly CatalogueEntry[], library: string): string[] {
  const symbols = new Set<string>();
  for (const entry of catalogue)
    for (const lib of entry.libraries)
      if (lib.library === library) for (const f of lib.functions) symbols.add(f.symbol);
  return [...symbols];
}

export interface CatalogueRequests {
  /** One request per catalogue function the library file exports, as an agent would make it. */
  requests: ProbeRequest[];
  /** `library:symbol` of catalogue functions this machine's file does not export. */
  absent: string[];
}

/** What an agent would probe for `service` in these libraries (under {@link SYSTEM_LIBRARY_DIR}). */
export function catalogueRequests(
  catalogue: readonly CatalogueEntry[],
  service: string,
  libraries: readonly string[],
): CatalogueRequests {
  const requests: ProbeRequest[] = [];
  const absent: string[] = [];
  for (const library of libraries) {
    const binaryPath = join(SYSTEM_LIBRARY_DIR, library);
    const exported = existsSync(binaryPath) ? readElfSymbols(binaryPath).dynamicFunctions : new Set<string>();
    const categoryOf = new Map<string, string>();
    for (const entry of catalogue)
      for (const lib of entry.libraries)
        if (lib.library === library) for (const f of lib.functions) categoryOf.set(f.symbol, f.category);
    for (const symbol of catalogueSymbols(catalogue, library)) {
      if (!exported.has(symbol)) {
        absent.push(`${library}:${symbol}`);
        continue;
      }
      const category = categoryOf.get(symbol)!;
      requests.push({
        service,
        functionId: `${category}/${symbol}`,
        category,
        symbol,
        library,
        binaryPath,
        nodeHash: `sha256:workload-${library}-${symbol}`,
        probeTypes: ['uprobe'],
      });
    }
  }
  return { requests, absent };
}

export interface CountedCall {
  library: string;
  symbol: string;
  /** hitCount summed over the plugin's observations of this call for the workload's pid. */
  agent: number;
  /** bpftrace `count()` at the function's entry, same pid. */
  bpftrace: number;
  /** Where the plugin's probe went, from its attached status (`entry+3, je, emulated` or `entry: …`). */
  placement: string;
  /** The status says the probe counts in the kernel with no record per call (a hot function). */
  countedInKernel: boolean;
}

/** What {@link countCatalogueCalls} needs from `@stella/sdk/testing`'s other helpers (no import cycle). */
export interface CountHarness {
  python: string;
  bpftraceCounts(
    probes: Readonly<Record<string, string>>,
    pid: number,
  ): Promise<{ stop(): Promise<Record<string, number>> }>;
  /** Starts the plugin for the workload's pid and returns what it emitted once stopped. */
  startPlugin(
    pid: number,
    requests: ProbeRequest[],
  ): Promise<{
    stop(): Promise<{ observations: Observation[]; statuses: ProbeStatus[] }>;
  }>;
}

/**
 * Runs the workload's `parts` once while the plugin (through its real session) and one bpftrace
 * watch the same pid, and returns both counts for every request.
 */
export async function countCatalogueCalls(
  harness: CountHarness,
  requests: readonly ProbeRequest[],
  parts: readonly WorkloadPart[],
  calls: number,
  files: WorkloadFiles,
): Promise<CountedCall[]> {
  const child = startCatalogueWorkload(harness.python, parts, calls, files);
  try {
    const label = (r: ProbeRequest) => `${r.library}:${r.symbol}`;
    const reference = await harness.bpftraceCounts(
      Object.fromEntries(requests.map((r) => [label(r), `uprobe:${r.binaryPath}:${r.symbol}`])),
      child.pid!,
    );
    const plugin = await harness.startPlugin(child.pid!, [...requests]);
    await runCatalogueWorkload(child);
    const { observations, statuses } = await plugin.stop();
    const expected = await reference.stop();
    const agent = new Map<string, number>();
    for (const o of observations)
      if (o.pid === child.pid) agent.set(o.function, (agent.get(o.function) ?? 0) + o.hitCount);
    return requests.map((r) => {
      const detail = statuses.find((s) => s.nodeHash === r.nodeHash && s.state === 'attached')?.detail;
      return {
        library: r.library,
        symbol: r.symbol,
        agent: agent.get(r.functionId) ?? 0,
        bpftrace: expected[label(r)] ?? 0,
        placement: detail?.split('; ')[0]?.replace(/^uprobe_multi at |^perf-event uprobe at /, '') ?? 'never attached',
        countedInKernel: detail?.includes('counted in the kernel') ?? false,
      };
    });
  } finally {
    if (child.exitCode === null) child.kill();
  }
}

/** The table a test prints: one line per call. */
export function formatCountedCalls(rows: readonly CountedCall[]): string {
  return rows
    .map(
      (r) =>
        `  ${`${r.library}:${r.symbol}`.padEnd(60)} agent ${String(r.agent).padStart(6)}  bpftrace ${String(r.bpftrace).padStart(6)}  ${r.placement}${r.countedInKernel ? ' (counted in the kernel)' : ''}`,
    )
    .join('\n');
}
