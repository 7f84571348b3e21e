// SPDX-License-Identifier: Apache-2.0
/**
 * The out-of-tree example plugin (examples/third-party-plugin) loaded by the real `stella agent`
 * from a user's stella.config.ts next to the built-in crypto plugin, with exact counts; and one bad
 * plugin (start() throws, or a YAML module that fails to import) never takes the others down.
 */
import { execFileSync } from 'node:child_process';
import { cp, mkdir, rm, symlink, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import type { ProbeStatus } from '@stella/sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nodeHash } from '../../../core/src/function-map/index.js';
import { REPO, runStella, startStella } from '../../support/cli.js';
import { readObservations } from '../../support/ndjson.js';
import { type CallSpec, canBpf, type Driven, drive, functionMap, hits, LIBDIR, tempDir } from '../probes/support.js';

const EXAMPLE = join(REPO, 'examples/third-party-plugin');
const SODIUM_CLIENT = join(REPO, 'test/e2e/probes/fixtures/sodium_client.py');
const APP_PURL = 'pkg:generic/stella-example-app@1.0.0';
const APP_CALLS = 1234;
const SODIUM_CALLS = 77;

describe.skipIf(!canBpf)('a third-party probe plugin loaded from the config, beside the built-ins', () => {
  let dir: string;
  let appBinary: string;
  const calls = (): CallSpec[] => [
    { function: 'app/app_handle_request', library: 'app', binaryPath: appBinary, purl: APP_PURL },
    {
      function: 'crypto/crypto_generichash',
      library: 'libsodium.so.23',
      binaryPath: `${LIBDIR}/libsodium.so.23`,
      purl: 'pkg:deb/debian/libsodium23@1.0.18-1?arch=amd64',
    },
  ];

  beforeAll(async () => {
    dir = await tempDir('stella-third-party-');
    appBinary = join(dir, 'app');
    // As the example's `npm run build:fixture`: -O0 without CET keeps `push %rbp` first (an emulated uprobe).
    execFileSync('cc', ['-O0', '-g', '-fcf-protection=none', '-o', appBinary, join(EXAMPLE, 'fixtures/app.c')]);
    // The temporary directory plays a user's project: bare `@stella/*` imports resolve from it.
    await symlink(join(REPO, 'node_modules'), join(dir, 'node_modules'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  /** The app and a libsodium caller, both loaded and waiting for "go". */
  async function workloads(): Promise<{ app: Driven; sodium: Driven }> {
    const app = drive(appBinary, []);
    const sodium = drive('python3', [SODIUM_CLIENT, 'ctypes', 'libsodium.so.23', String(SODIUM_CALLS)]);
    await Promise.all([app.line('ready'), sodium.line('ready')]);
    sodium.send('load');
    await sodium.line('loaded');
    return { app, sodium };
  }

  async function runWorkloads({ app, sodium }: { app: Driven; sodium: Driven }): Promise<void> {
    app.send(`go ${APP_CALLS}`);
    sodium.send('go');
    await Promise.all([app.line(`done ${APP_CALLS} `), sodium.line('done')]);
  }

  async function finish({ app, sodium }: { app: Driven; sodium: Driven }): Promise<void> {
    app.send('exit');
    sodium.send('exit');
    await Promise.all([app.exited, sodium.exited]);
  }

  async function probeStatuses(configPath: string): Promise<{ stdout: string; statuses: ProbeStatus[] }> {
    const res = await runStella(['plugins', 'list', '--config', configPath, '--probe-status', '--format', 'json']);
    expect(res.code).toBe(0);
    return { stdout: res.stdout, statuses: (JSON.parse(res.stdout) as { probes: ProbeStatus[] }).probes };
  }

  it('stella.config.ts: the example plugin observes exactly N app/app_handle_request calls; a plugin whose start() throws is reported and the others carry on', async () => {
    const w = await workloads();
    const mapPath = join(dir, 'ts.map.json');
    await writeFile(
      mapPath,
      JSON.stringify(
        functionMap('third-party', [
          ...calls(),
          { function: 'broken/broken_call', library: 'app', binaryPath: appBinary, purl: APP_PURL },
        ]),
      ),
    );
    const outDir = join(dir, 'ts-observations');
    const examplePath = relative(dir, join(EXAMPLE, 'src/index.ts'));
    const configPath = join(dir, 'stella.config.ts');
    await writeFile(
      configPath,
      `// SPDX-License-Identifier: Apache-2.0
import { cryptoProbes } from '@stella/probes-crypto';
import { defineProbePlugin } from '@stella/sdk';
import { appProbes } from './${examplePath}';

const brokenProbes = defineProbePlugin({
  name: 'broken-probes',
  categories: ['broken'],
  catalogue: [],
  bpfObjects: [],
  detect: async () => ({ available: true }),
  start: async () => {
    throw new Error('deliberately thrown by the test');
  },
});

export default {
  runtime_agent: {
    node_name: 'third-party-e2e',
    function_maps: [${JSON.stringify(mapPath)}],
    targets: [{ service: 'third-party', pids: [${w.app.pid}, ${w.sodium.pid}] }],
    observation_store: { type: 'memory' },
    export: { flush_interval_ms: 200, output_path: ${JSON.stringify(outDir)} },
    telemetry: { prometheus: { enabled: false }, verify_interval_ms: 500 },
  },
  plugins: [cryptoProbes(), brokenProbes, appProbes()],
};
`,
    );

    const agent = startStella(['agent', '--config', configPath]);
    await agent.waitFor(/\bready metrics=/);
    await runWorkloads(w);
    agent.child.kill('SIGTERM');
    expect(await agent.exited).toBe(0);
    expect(agent.stderr()).toMatch(/broken-probes.*plugin failed to start.*deliberately thrown by the test/);

    const observations = await readObservations(outDir);
    expect(hits(observations, 'app/app_handle_request', w.app.pid)).toBe(APP_CALLS);
    expect(hits(observations, 'crypto/crypto_generichash', w.sodium.pid)).toBe(SODIUM_CALLS);
    const appRecords = observations.filter((o) => o.function === 'app/app_handle_request');
    expect(new Set(appRecords.map((o) => o.nodeHash))).toEqual(new Set([nodeHash(APP_PURL, 'app_handle_request')]));
    expect(appRecords.every((o) => o.binaryPath === appBinary && o.service === 'third-party')).toBe(true);

    const list = await runStella(['plugins', 'list', '--config', configPath]);
    expect(list.code).toBe(0);
    expect(list.stdout).toMatch(/^stella-probe-example@0\.1\.0 {2}categories=app {2}available \(app:uprobe\)$/m);
    expect(list.stdout).toContain(`object ${join(EXAMPLE, 'bpf/app_calls.bpf.o')}`);
    expect(list.stdout).toMatch(/^@stella\/probes-crypto@/m);

    const { statuses } = await probeStatuses(configPath);
    const broken = statuses.find((s) => s.functionId === 'broken/broken_call');
    expect(broken).toMatchObject({ plugin: 'broken-probes', state: 'failed', reason: 'plugin-error' });
    expect(broken?.detail).toContain('deliberately thrown by the test');
    expect(statuses.find((s) => s.functionId === 'app/app_handle_request')).toMatchObject({
      plugin: 'stella-probe-example',
      state: 'attached',
    });
    await finish(w);
  });

  it('YAML plugins: a module that fails to import (and one that is missing) is logged by name; the example plugin still observes exactly', async () => {
    const w = await workloads();
    const mapPath = join(dir, 'yaml.map.json');
    await writeFile(
      mapPath,
      JSON.stringify(
        functionMap('third-party-yaml', [
          calls()[0]!,
          { function: 'missing/missing_call', library: 'app', binaryPath: appBinary, purl: APP_PURL },
        ]),
      ),
    );
    await writeFile(
      join(dir, 'broken-import.mjs'),
      "// SPDX-License-Identifier: Apache-2.0\nthrow new Error('this plugin module deliberately fails to import');\n",
    );
    const outDir = join(dir, 'yaml-observations');
    const configPath = join(dir, 'stella.yaml');
    await writeFile(
      configPath,
      [
        'runtime_agent:',
        '  node_name: third-party-e2e',
        `  function_maps: [${JSON.stringify(mapPath)}]`,
        `  targets: [{service: third-party-yaml, pids: [${w.app.pid}]}]`,
        '  observation_store: {type: memory}',
        `  export: {flush_interval_ms: 200, output_path: ${JSON.stringify(outDir)}}`,
        '  telemetry: {prometheus: {enabled: false}, verify_interval_ms: 500}',
        'plugins:',
        '  - ./broken-import.mjs',
        `  - {module: ${JSON.stringify(relative(dir, join(EXAMPLE, 'src/index.ts')))}, options: {ringBufferBytes: 2097152}}`,
        '  - ./no-such-plugin.mjs',
        '',
      ].join('\n'),
    );

    const agent = startStella(['agent', '--config', configPath]);
    await agent.waitFor(/\bready metrics=/);
    await runWorkloads(w);
    agent.child.kill('SIGTERM');
    expect(await agent.exited).toBe(0);
    expect(agent.stderr()).toMatch(
      /plugin "\.\/broken-import\.mjs" failed to load: this plugin module deliberately fails to import/,
    );
    expect(agent.stderr()).toMatch(/plugin "\.\/no-such-plugin\.mjs" failed to load/);

    const observations = await readObservations(outDir);
    expect(hits(observations, 'app/app_handle_request', w.app.pid)).toBe(APP_CALLS);

    const { statuses } = await probeStatuses(configPath);
    expect(statuses.find((s) => s.functionId === 'missing/missing_call')).toMatchObject({
      state: 'failed',
      reason: 'plugin-error',
    });
    expect(statuses.find((s) => s.functionId === 'app/app_handle_request')?.state).toBe('attached');
    await finish(w);
  });
});

/** A build tool the out-of-tree build needs; undefined when all are here. */
function missingTool(): string | undefined {
  return ['clang', 'bpftool', 'npm'].find((tool) => {
    try {
      execFileSync('sh', ['-c', `command -v ${tool}`]);
      return false;
    } catch {
      return true;
    }
  });
}

describe.skipIf(missingTool())('the example outside the Stella workspace, with only the packed SDK installed', () => {
  it('builds its BPF object and passes its own ABI check', async () => {
    const dir = await tempDir('stella-out-of-tree-');
    try {
      // Built first (global setup runs tsc -b): the tarball carries dist/, the headers and the build helper.
      const packed = execFileSync('npm', ['pack', '--silent', '--pack-destination', dir, join(REPO, 'plugins/sdk')], {
        encoding: 'utf8',
      }).trim();
      const project = join(dir, 'plugin');
      await mkdir(project);
      for (const part of ['package.json', 'src', 'test', 'fixtures'])
        await cp(join(EXAMPLE, part), join(project, part), { recursive: true });
      await mkdir(join(project, 'bpf'));
      await cp(join(EXAMPLE, 'bpf/app_calls.bpf.c'), join(project, 'bpf/app_calls.bpf.c'));
      const npm = (args: string[]) =>
        execFileSync('npm', args, {
          cwd: project,
          encoding: 'utf8',
          env: { ...process.env, npm_config_audit: 'false' },
        });
      npm(['install', '--offline', '--no-fund', '--no-package-lock', join(dir, packed)]);
      npm(['run', 'build:bpf']);
      const test = npm(['test']);
      // node --test prints TAP (`# pass 1`) on Node 20-22 and its spec reporter (`ℹ pass 1`) from 24 on.
      expect(test).toMatch(/^(#|ℹ) pass 1$/m);
      expect(test).toMatch(/^(#|ℹ) fail 0$/m);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }, 120_000);
});
