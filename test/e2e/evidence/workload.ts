// SPDX-License-Identifier: Apache-2.0
/**
 * What the evidence CLI tests run against: a map generated from syft's SBOM of a Debian 12 host
 * (tls/* and crypto/*, service `web`), and two nodes' agent exports in the agent's record shape and
 * file names: curl-like TLS handshakes and digests through libssl3, one connect(2) the map does not
 * declare, one record before the window.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO = fileURLToPath(new URL('../../../', import.meta.url));
export const SBOM = join(REPO, 'test/e2e/function-map/fixtures/debian12-syft.cdx.json');
export const LIBSSL3 = 'pkg:deb/debian/libssl3@3.0.19-1~deb12u2?arch=amd64&distro=debian-12';
export const LIBC = '/usr/lib/x86_64-linux-gnu/libc.so.6';
export const WINDOW = ['--from', '2026-03-01T10:00:00Z', '--to', '2026-03-01T11:00:00Z'];

export interface Workload {
  dir: string;
  /** `stella <words of text> ...more` in the workload's directory; words split on spaces. */
  stella(text: string, ...more: string[]): { code: number | null; stdout: string; stderr: string };
}

interface Call {
  function: string;
  symbol: string;
  purl?: string;
  binaryPath: string;
  nodeHash?: string;
  library?: string;
}

function record(c: Call, observedAt: string, node: string, hitCount: number): string {
  return JSON.stringify({
    observedAt,
    service: 'web',
    function: c.function,
    symbol: c.symbol,
    ...(c.purl ? { purl: c.purl } : {}),
    binaryPath: c.binaryPath,
    ...(c.nodeHash ? { nodeHash: c.nodeHash } : {}),
    probeType: c.function.startsWith('net/') ? 'tracepoint' : 'uprobe',
    pid: 4242,
    tid: 4242,
    comm: 'curl',
    nodeName: node,
    hitCount,
  });
}

export function setUpWorkload(): Workload {
  const dir = mkdtempSync(join(tmpdir(), 'stella-evidence-'));
  const stella: Workload['stella'] = (text, ...more) => {
    const args = [...text.split(' ').filter(Boolean), ...more];
    const r = spawnSync(process.execPath, [join(REPO, 'core/bin/stella.js'), ...args], {
      cwd: dir,
      encoding: 'utf8',
      timeout: 60_000,
    });
    return { code: r.status, stdout: r.stdout, stderr: r.stderr };
  };
  const generate = stella(
    'function-map generate --service web --hot-functions tls/* --hot-functions crypto/* --output map.json --sbom',
    SBOM,
  );
  if (generate.code !== 0) throw new Error(`function-map generate failed: ${generate.stderr}`);
  const map = JSON.parse(readFileSync(join(dir, 'map.json'), 'utf8'));
  const calls = new Map<string, Call>();
  for (const p of map.predicate.expectedPaths)
    for (const c of p.expectedCalls) calls.set(`${c.function}@${c.library}`, c);
  const call = (id: string) => calls.get(id)!;
  mkdirSync(join(dir, 'obs'));
  const write = (name: string, lines: string[]) => writeFileSync(join(dir, 'obs', name), `${lines.join('\n')}\n`);
  write('observations-node-a-20260301T100000000Z-0000-11.ndjson', [
    record(call('tls/SSL_do_handshake@libssl.so.3'), '2026-03-01T10:05:00.000Z', 'node-a', 3),
    record(call('crypto/EVP_DigestInit_ex@libcrypto.so.3'), '2026-03-01T10:05:00.001Z', 'node-a', 12),
    record(call('crypto/EVP_PKEY_derive@libcrypto.so.3'), '2026-03-01T10:05:00.002Z', 'node-a', 3),
  ]);
  write('observations-node-b-20260301T100000000Z-0000-12.ndjson', [
    record(call('tls/SSL_do_handshake@libssl.so.3'), '2026-03-01T10:40:00.000Z', 'node-b', 2),
    record({ function: 'net/connect', symbol: 'connect', binaryPath: LIBC }, '2026-03-01T10:40:00.000Z', 'node-b', 2),
    record(call('tls/SSL_do_handshake@libssl.so.3'), '2026-03-01T09:40:00.000Z', 'node-b', 50), // before the window
  ]);
  const keygen = stella('attest keygen --name auditor');
  if (keygen.code !== 0) throw new Error(`attest keygen failed: ${keygen.stderr}`);
  return { dir, stella };
}
