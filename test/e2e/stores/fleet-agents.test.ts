// SPDX-License-Identifier: Apache-2.0
/**
 * Three real agents (real uprobes on libssl), each with its own `node_name`, each watching its own
 * workload in a cgroup of its own, all writing to one Valkey Cluster; a real Prometheus scrapes all
 * three with the shipped rules. The service's map has three paths and no node sees them all:
 * node-a runs a Python client (SSL_do_handshake), node-b curl (SSL_connect and SSL_do_handshake),
 * node-c the TLS server (SSL_set_accept_state, once per accepted connection). Per node the rate is
 * 1/3, 2/3 and 1/3; the fleet rate is 1 and no coverage alert fires; `verify --from` against the
 * cluster passes with the same per-path result as the union of the three nodes' NDJSON, while each
 * node's NDJSON alone fails. Counts are checked against the workloads' exact call counts and against
 * bpftrace count() on the same symbols, cgroups and pid.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, startOpensslServer, type TlsServer } from '../../../core/src/demo/tls-server.js';
import { type RunningCli, runStella, startStella } from '../../support/cli.js';
import { LIBSSL, stdoutLines } from '../../support/maps.js';
import { type PrometheusServer, startPrometheus } from '../../support/prometheus.js';
import { startValkeyCluster, type ValkeyCluster } from '../../support/valkey-cluster.js';
import { bpftraceCount } from '../probes/support.js';
import { cgroupV2Root, createCgroup, libsslPathsMap, type WorkloadCgroup } from './fleet-support.js';

const repo = resolve(import.meta.dirname, '../../..');
const TLS_CLIENT = join(repo, 'test/e2e/agent/fixtures/tls_client.py');
const RULES = join(repo, 'otel-collector/rules/stella-alerts.yaml');
const SERVICE = 'fleet-shop';
const NODES = ['node-a', 'node-b', 'node-c'] as const;
const PY_HANDSHAKES = 6;
const CURLS = 4;

const canBpf = process.getuid?.() === 0;
const cgroupRoot = cgroupV2Root();
if (!canBpf) console.warn('[skip] fleet agents e2e: needs root for BPF and cgroups');
else if (!cgroupRoot) console.warn('[skip] fleet agents e2e: no cgroup v2 hierarchy mounted');

interface Report {
  verdict: string;
  observationRate: number;
  paths: Array<{ pathId: string; observed: boolean; hitCount: number }>;
}

describe.skipIf(!canBpf || !cgroupRoot)('three agents, one service, one verdict', () => {
  let dir: string;
  let tls: TlsServer;
  let cluster: ValkeyCluster | undefined;
  let prometheus: PrometheusServer | undefined;
  let client: ChildProcess | undefined;
  const agents: RunningCli[] = [];
  const cgroups: WorkloadCgroup[] = [];
  const configs: string[] = [];
  const outputs: string[] = [];
  const metrics: string[] = [];
  let mapPath: string;
  /** bpftrace's count() of each path's symbol over the same cgroups and pid the agents watch. */
  const independent: Record<string, number> = {};

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'stella-e2e-fleet-'));
    [tls, cluster] = await Promise.all([startOpensslServer(dir), startValkeyCluster()]);
    if (!cluster) throw new Error('valkey-server is not installed: run scripts/setup.sh');
    for (const node of NODES) cgroups.push(await createCgroup(cgroupRoot!, `stella-fleet-${process.pid}-${node}`));
    await cgroups[2]!.add(tls.process.pid!); // node-c's workload: the server

    mapPath = join(dir, 'map.json');
    await writeFile(
      mapPath,
      JSON.stringify(
        libsslPathsMap(SERVICE, [
          { pathId: 'client-handshake', symbol: 'SSL_do_handshake', tags: ['client'] },
          { pathId: 'client-connect', symbol: 'SSL_connect', tags: ['client'] },
          { pathId: 'server-accept', symbol: 'SSL_set_accept_state', tags: ['server'] },
        ]),
      ),
    );
    const seeds = cluster.seeds.map((s) => JSON.stringify(s)).join(', ');
    for (const [i, node] of NODES.entries()) {
      const port = await freePort();
      metrics.push(`http://127.0.0.1:${port}/metrics`);
      outputs.push(join(dir, `${node}-observations`));
      configs.push(join(dir, `${node}.yaml`));
      await writeFile(
        configs[i]!,
        [
          'runtime_agent:',
          `  node_name: ${node}`,
          `  function_maps: [${JSON.stringify(mapPath)}]`,
          `  targets: [{service: ${SERVICE}, cgroups: ["${cgroups[i]!.id}"]}]`,
          '  observation_store:',
          '    type: valkey',
          '    max_batch_size: 50',
          `    valkey: {cluster_nodes: [${seeds}], password: ${JSON.stringify(cluster.password)}, key_prefix: "fleet-e2e:"}`,
          `  export: {flush_interval_ms: 200, output_path: ${JSON.stringify(outputs[i])}}`,
          '  telemetry:',
          `    prometheus: {enabled: true, host: 127.0.0.1, port: ${port}}`,
          '    verify_interval_ms: 500',
        ].join('\n'),
      );
    }
    // One at a time: attaching is the kernel's busiest moment.
    for (const config of configs) {
      const agent = startStella(['agent', '--config', config]);
      agents.push(agent);
      await agent.waitFor(/\bready\b.*metrics=/, 60_000);
    }

    const [a, b] = [cgroups[0]!.id, cgroups[1]!.id];
    const counters = {
      'client-handshake': await bpftraceCount(
        [`uprobe:${LIBSSL}:SSL_do_handshake`],
        `cgroup == ${a} || cgroup == ${b}`,
      ),
      'client-connect': await bpftraceCount([`uprobe:${LIBSSL}:SSL_connect`], `cgroup == ${b}`),
      'server-accept': await bpftraceCount([`uprobe:${LIBSSL}:SSL_set_accept_state`], `pid == ${tls.process.pid}`),
    };

    // node-a: the Python client, moved into its cgroup before its first handshake.
    client = spawn('python3', [TLS_CLIENT, String(tls.port), tls.certPath, String(PY_HANDSHAKES)], {
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    await stdoutLines(client, 'ready');
    await cgroups[0]!.add(client.pid!);
    client.stdin?.end('go\n');
    await stdoutLines(client, 'done');
    // node-b: curl, each run joining the cgroup before it execs.
    for (let i = 0; i < CURLS; i++) {
      const curl = spawn(
        'sh',
        [
          '-c',
          `echo $$ > ${join(cgroups[1]!.dir, 'cgroup.procs')} && exec curl -s --cacert ${tls.certPath} -o /dev/null https://localhost:${tls.port}/`,
        ],
        { stdio: 'inherit' },
      );
      expect(await new Promise((r) => curl.once('exit', r))).toBe(0);
    }

    for (const [pathId, counter] of Object.entries(counters)) independent[pathId] = await counter.stop();

    const rulesDir = join(dir, 'rules');
    await mkdir(rulesDir);
    const shipped = await readFile(RULES, 'utf8');
    await writeFile(join(rulesDir, 'stella-alerts.yaml'), shipped.replace(/^(\s+)for: \S+$/gm, '$1for: 2s'));
    prometheus = await startPrometheus({ targets: metrics, ruleFiles: [join(rulesDir, 'stella-alerts.yaml')] });
  }, 180_000);

  afterAll(async () => {
    await prometheus?.stop();
    for (const agent of agents) {
      if (agent.child.exitCode === null) agent.child.kill('SIGTERM');
      await agent.exited;
    }
    client?.kill('SIGKILL');
    await tls?.stop();
    for (const c of cgroups) await c.remove();
    await cluster?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('rates each node on its own part, the fleet on the union, and fires no coverage alert', async () => {
    const p = prometheus!;
    const fleet = await p.waitFor(
      async () => {
        const r = await p.query(`service_tag:stella_observation_rate:fleet{service="${SERVICE}",tag="all"}`);
        return r[0]?.value[1] === '1' ? r : undefined;
      },
      30_000,
      'the fleet rate to reach 1',
    );
    expect(fleet).toHaveLength(1);
    // node-a adds nothing to the union (curl's node also sees SSL_do_handshake): wait for its scrape too.
    const perNode = await p.waitFor(
      async () => {
        const r = await p.query(`stella_observation_rate{service="${SERVICE}",tag="all"}`);
        return r.length === NODES.length ? r : undefined;
      },
      30_000,
      'every node scraped',
    );
    const byInstance = Object.fromEntries(perNode.map((s) => [s.metric.instance, Number(s.value[1])]));
    expect(metrics.map((url) => byInstance[new URL(url).host]!.toFixed(3))).toEqual(['0.333', '0.667', '0.333']);
    // Several evaluations with `for: 2s`: the per-node rates would have fired; the fleet rule does not.
    await new Promise((r) => setTimeout(r, 5000));
    const alerts = await p.alerts();
    expect(alerts.filter((a) => a.labels.service === SERVICE && /coverage/.test(a.labels.alertname ?? ''))).toEqual([]);
    const tags = await p.query(`service_tag:stella_observation_rate:fleet{service="${SERVICE}"}`);
    expect(Object.fromEntries(tags.map((s) => [s.metric.tag, s.value[1]]))).toEqual({
      all: '1',
      client: '1',
      server: '1',
    });
  });

  it('gives the union verdict from the shared Valkey Cluster, equal to the union of the nodes’ NDJSON', async () => {
    for (const agent of agents) agent.child.kill('SIGTERM');
    for (const agent of agents) expect(await agent.exited).toBe(0);
    const verify = async (args: string[]) => {
      const r = await runStella(['function-map', 'verify', '--function-map', mapPath, '--from', '1h', ...args]);
      return { code: r.code, report: JSON.parse(r.stdout) as Report, stderr: r.stderr };
    };
    for (const [i, node] of NODES.entries()) {
      const alone = await verify(['--offline', '--observations', outputs[i]!]);
      expect(alone.code, node).toBe(1);
      if (node === 'node-a')
        expect(alone.report.paths.find((x) => x.pathId === 'client-handshake')?.hitCount).toBe(PY_HANDSHAKES);
    }
    const union = await verify(['--offline', '--observations', ...outputs]);
    expect(union.code).toBe(0);
    const shared = await verify(['--config', configs[0]!]);
    expect(shared.stderr).toBe('');
    expect(shared.code).toBe(0);
    const perPath = (r: Report) => r.paths.map((x) => [x.pathId, x.observed, x.hitCount]);
    expect(perPath(shared.report)).toEqual(perPath(union.report));
    // Exact counts: a blocking Python client calls SSL_do_handshake once per handshake, s_server
    // calls SSL_set_accept_state once per accepted connection; curl calls SSL_connect at least once.
    const hits = Object.fromEntries(perPath(shared.report).map(([id, , n]) => [id, n]));
    expect(hits['server-accept']).toBe(PY_HANDSHAKES + CURLS);
    expect(hits['client-connect']).toBeGreaterThanOrEqual(CURLS);
    // And bpftrace on the same symbols, cgroups and pid saw exactly what the fleet stored.
    expect(hits).toEqual(independent);
    const summary = await runStella([
      'observations',
      'query',
      '--config',
      configs[0]!,
      '--summary',
      '--format',
      'json',
    ]);
    const rows = JSON.parse(summary.stdout) as Array<{ function: string; hitCount: number }>;
    expect(rows.length).toBeGreaterThan(0);
  });
});
