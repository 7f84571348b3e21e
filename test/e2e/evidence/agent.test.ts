// SPDX-License-Identifier: Apache-2.0
/**
 * Runtime evidence from a real agent run: the map generated from syft's SBOM of this Debian 12 host
 * (`--rootfs /`, tls/* and crypto/*), the agent's uprobes on a python TLS client making N blocking
 * handshakes through libssl, bpftrace counting SSL_do_handshake on the same pid. Then, on the
 * agent's own NDJSON export: `sbom annotate` marks exactly the component whose calls were observed
 * (with the handshake count bpftrace saw), and `function-map learn` gives a map the same run
 * verifies `pass` under, where the generated one fails. Run under the kernel lock.
 */
import { spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Spec, Validation } from '@cyclonedx/cyclonedx-library';
import type { Observation } from '@stella/sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startOpensslServer, type TlsServer } from '../../../core/src/demo/tls-server.js';
import { LIBSSL } from '../../support/maps.js';
import { runTlsAgent } from '../../support/tls-agent.js';

const REPO = fileURLToPath(new URL('../../../', import.meta.url));
const SBOM = join(REPO, 'test/e2e/function-map/fixtures/debian12-syft.cdx.json');
const HANDSHAKES = 12;
const canBpf = process.getuid?.() === 0;
if (!canBpf) console.warn('[skip] evidence agent e2e: needs root for BPF (CAP_BPF/CAP_PERFMON)');

function stella(cwd: string, ...args: string[]) {
  const r = spawnSync(process.execPath, [join(REPO, 'core/bin/stella.js'), ...args], {
    cwd,
    encoding: 'utf8',
    timeout: 120_000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe.skipIf(!canBpf)('runtime evidence from a real agent run', () => {
  let dir: string;
  let server: TlsServer;
  let observations: Observation[];
  let bpftraceCount: number;
  let window: { from: string; to: string };
  const obsDir = () => join(dir, 'observations');

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'stella-e2e-evidence-'));
    const generate = stella(
      dir,
      ...['function-map', 'generate', '--sbom', SBOM, '--service', 'web', '--rootfs', '/'],
      ...['--hot-functions', 'tls/*', '--hot-functions', 'crypto/*', '--output', 'map.json'],
    );
    expect(generate.code, generate.stderr).toBe(0);
    server = await startOpensslServer(dir);
    const run = await runTlsAgent({
      dir,
      server,
      handshakes: HANDSHAKES,
      mapPath: join(dir, 'map.json'),
      service: 'web',
      nodeName: 'evidence-node',
      readyTimeoutMs: 90_000,
    });
    ({ observations, window } = run);
    bpftraceCount = run.bpftraceHandshakes;
  }, 240_000);
  afterAll(async () => {
    await server?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('saw the handshakes bpftrace saw', () => {
    expect(bpftraceCount).toBe(HANDSHAKES);
    const handshakes = observations.filter((o) => o.function === 'tls/SSL_do_handshake' && o.binaryPath === LIBSSL);
    expect(handshakes.reduce((n, o) => n + o.hitCount, 0)).toBe(HANDSHAKES);
  });

  it('sbom annotate marks exactly the components whose calls the agent recorded', async () => {
    const r = stella(
      dir,
      ...['sbom', 'annotate', '--sbom', SBOM, '--function-map', 'map.json', '--observations', obsDir()],
      ...['--from', window.from, '--to', window.to, '--output', 'web.cdx.json'],
    );
    expect(r.code, r.stderr).toBe(0);
    const text = await readFile(join(dir, 'web.cdx.json'), 'utf8');
    expect(await new Validation.JsonValidator(Spec.Version.v1dot6).validate(text)).toBeNull();
    const bom = JSON.parse(text) as { components: Record<string, unknown>[] };
    const prop = (c: Record<string, unknown>, name: string) =>
      (c.properties as { name: string; value: string }[] | undefined)?.find((p) => p.name === name)?.value;
    const observedPurls = bom.components
      .filter((c) => prop(c, 'stella:runtime:observed') === 'true')
      .map((c) => c.purl);
    // Independently: the purls of the records the agent wrote, for this service.
    const recorded = [...new Set(observations.filter((o) => o.service === 'web' && o.purl).map((o) => o.purl))];
    expect(observedPurls.sort()).toEqual(recorded.sort());
    expect(observedPurls).toEqual(['pkg:deb/debian/libssl3@3.0.19-1~deb12u2?arch=amd64&distro=debian-12']);
    const libssl3 = bom.components.find((c) => c.purl === observedPurls[0])!;
    const occurrences = (
      libssl3.evidence as { occurrences: { symbol: string; location: string; additionalContext: string }[] }
    ).occurrences;
    const handshake = occurrences.find((o) => o.symbol === 'SSL_do_handshake' && o.location === LIBSSL)!;
    expect(handshake.additionalContext).toMatch(new RegExp(`called ${HANDSHAKES} times .* on 1 node`));
    // Canary records (a library's init, `canary/…`) say the probes see the library; they are no call
    // of the component's API, so its evidence does not count them.
    const total = observations
      .filter((o) => o.service === 'web' && o.purl === observedPurls[0] && !o.function.startsWith('canary/'))
      .reduce((n, o) => n + o.hitCount, 0);
    expect(prop(libssl3, 'stella:runtime:hitCount')).toBe(String(total));
    // The libraries this client never loads are mapped, not observed, and never called unreachable.
    const notObserved = bom.components.filter((c) => prop(c, 'stella:runtime:observed') === 'false').map((c) => c.name);
    expect(notObserved.sort()).toEqual(['libgcrypt20', 'libgnutls30', 'libsodium23', 'nodejs']);
  });

  it('function-map learn refines the generated map so the same run verifies pass', async () => {
    const args = ['--observations', obsDir(), '--from', window.from, '--to', window.to];
    const before = stella(dir, 'function-map', 'verify', '--function-map', 'map.json', '--offline', ...args);
    expect(before.code, before.stderr).toBe(1);
    const learn = stella(
      dir,
      'function-map',
      'learn',
      '--function-map',
      'map.json',
      ...args,
      '--output',
      'learned.json',
    );
    expect(learn.code, learn.stderr).toBe(0);
    expect(learn.stderr).toMatch(/ {2}= tls-handshake:libssl\.so\.3: stays required, observed \(\d+ hits\)/);
    expect(learn.stderr).toContain('  ~ tls-handshake:node: required → optional, never observed (0 hits)');
    const after = stella(
      dir,
      'function-map',
      'verify',
      '--function-map',
      'learned.json',
      '--offline',
      ...args,
      '--format',
      'json',
    );
    expect(after.code, after.stderr).toBe(0);
    const report = JSON.parse(after.stdout);
    expect(report.verdict).toBe('pass');
    expect(report.observationRate).toBe(1);
    const handshake = report.paths.find((p: { pathId: string }) => p.pathId === 'tls-handshake:libssl.so.3');
    expect(handshake.hitCount).toBeGreaterThanOrEqual(HANDSHAKES);
  });
});
