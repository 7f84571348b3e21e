// SPDX-License-Identifier: Apache-2.0
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { isStorePlugin } from '@stella/sdk';
import { describe, expect, it } from 'vitest';
import { DEFAULTS_SOURCE, loadConfig, probeTuningOf, storeSettingsOf } from '../../src/config/index.js';
import { ConfigError } from '../../src/errors.js';
import { configErrorOf, fixture } from './helpers.js';

describe('the minimal operator YAML (observation_store, probes, export; fixture runbook/)', () => {
  it('loads as is, found by search, with every default filled in', async () => {
    const { config, source, userConfig } = await loadConfig({ cwd: fixture('runbook'), env: { NODE_NAME: 'node-a' } });
    expect(source).toBe(fixture('runbook/stella.config.yaml'));
    expect(userConfig.runtime_agent?.probes?.default_types).toEqual(['uprobe', 'kprobe']);
    expect(config).toEqual({
      runtimeAgent: {
        nodeName: 'node-a',
        functionMaps: [],
        targets: [],
        learning: [],
        observationStore: {
          type: 'memory',
          retentionHours: 72,
          maxBatchSize: 1000,
          postgres: { port: 5432, schema: 'stella', ssl: false },
          valkey: { host: '127.0.0.1', port: 6379, db: 0, keyPrefix: 'stella:' },
        },
        probes: {
          maxConcurrent: 256,
          attachTimeoutMs: 5000,
          defaultTypes: ['uprobe', 'kprobe'],
          samplingRate: 1,
          modes: {},
          sensitivePaths: [
            '/etc/shadow',
            '/etc/gshadow',
            '/etc/passwd',
            '/etc/sudoers',
            '/etc/ssl/private/',
            '/etc/ssh/',
            '/root/.ssh/',
          ],
        },
        export: {
          format: 'ndjson',
          flushIntervalMs: 5000,
          outputPath: '/var/stella/observations/',
          aggregationWindowMs: 0,
          rotateBytes: 64 * 1024 * 1024,
          rotateIntervalMs: 3_600_000,
          compressRotated: true,
          retentionHours: 72,
        },
        buffer: { maxBytes: 67_108_864 },
        telemetry: {
          prometheus: { enabled: true, host: '127.0.0.1', port: 9464 },
          otlp: { metrics: true, traces: true, spanSamplingRatio: 1, headers: {}, exportIntervalMs: 10_000 },
          verifyIntervalMs: 15_000,
        },
        log: { level: 'info', format: 'text' },
      },
      plugins: undefined,
      configDir: fixture('runbook'),
    });
    expect(probeTuningOf(config)).toEqual({
      samplingRate: 1,
      aggregationWindowMs: 0,
      maxConcurrent: 256,
      attachTimeoutMs: 5000,
      defaultTypes: ['uprobe', 'kprobe'],
      sensitivePaths: expect.arrayContaining(['/etc/shadow', '/etc/ssh/']),
      countModes: {},
      presenceWindowMs: 15_000,
    });
    expect(storeSettingsOf(config)).toEqual({ retentionHours: 72, maxBatchSize: 1000 });
  });

  it('also loads through --config', async () => {
    const { source } = await loadConfig({ configPath: fixture('runbook/stella.config.yaml'), env: {} });
    expect(source).toBe(fixture('runbook/stella.config.yaml'));
  });
});

describe('file formats', () => {
  it('stella.config.ts through jiti, with defineConfig and plugin objects', async () => {
    const { config, source } = await loadConfig({ cwd: fixture('formats/ts'), env: {} });
    expect(source).toBe(fixture('formats/ts/stella.config.ts'));
    expect(config.runtimeAgent.nodeName).toBe('from-ts');
    expect(config.runtimeAgent.observationStore).toMatchObject({ type: 'fixture', retentionHours: 24 });
    expect(config.runtimeAgent.functionMaps).toEqual([fixture('formats/ts/maps/api.json')]);
    expect(config.runtimeAgent.targets).toEqual([
      { service: 'api', executables: ['/usr/bin/curl', '/usr/bin/python3*'], allProcesses: false },
    ]);
    expect(config.plugins).toHaveLength(1);
    expect(isStorePlugin(config.plugins?.[0])).toBe(true);
  });

  it.each([
    ['json', 'stella.config.json', 'from-json'],
    ['yaml', 'stella.config.yml', 'from-yaml'],
    ['stellarc', '.stellarc', 'from-stellarc'],
    ['package-json', 'package.json', 'from-package-json'],
    ['mjs', 'stella.config.mjs', 'from-mjs'],
  ])('%s is found by search and by --config', async (dir, file, nodeName) => {
    const searched = await loadConfig({ cwd: fixture(`formats/${dir}`), env: {} });
    expect(searched.source).toBe(fixture(`formats/${dir}/${file}`));
    expect(searched.config.runtimeAgent.nodeName).toBe(nodeName);
    const explicit = await loadConfig({ configPath: fixture(`formats/${dir}/${file}`), env: {} });
    expect(explicit.config).toEqual(searched.config);
  });

  it('reads format-specific values: sizes as strings, empty YAML sections, log settings', async () => {
    const json = await loadConfig({ cwd: fixture('formats/json'), env: {} });
    expect(json.config.runtimeAgent.buffer.maxBytes).toBe(16 * 1024 * 1024);
    expect(json.config.runtimeAgent.probes.samplingRate).toBe(0.25);
    const yaml = await loadConfig({ cwd: fixture('formats/yaml'), env: {} });
    expect(yaml.config.runtimeAgent.export.rotateBytes).toBe(8 * 1024 * 1024);
    expect(yaml.config.runtimeAgent.export.aggregationWindowMs).toBe(1000);
    expect(yaml.config.runtimeAgent.telemetry.prometheus.port).toBe(9464);
    const rc = await loadConfig({ cwd: fixture('formats/stellarc'), env: {} });
    expect(rc.config.runtimeAgent.log).toEqual({ level: 'debug', format: 'json' });
    const pkg = await loadConfig({ cwd: fixture('formats/package-json'), env: {} });
    expect(pkg.config.runtimeAgent.probes.maxConcurrent).toBe(32);
  });

  it('no config anywhere: defaults, source "(defaults)", node name from $NODE_NAME then the host name', async () => {
    const withNodeName = await loadConfig({ cwd: fixture('empty'), env: { NODE_NAME: 'k8s-node-7' } });
    expect(withNodeName.source).toBe(DEFAULTS_SOURCE);
    expect(withNodeName.userConfig).toEqual({});
    expect(withNodeName.config.runtimeAgent.nodeName).toBe('k8s-node-7');
    expect(withNodeName.config.runtimeAgent.observationStore.type).toBe('memory');
    expect(withNodeName.config.configDir).toBe(fixture('empty'));
    const bare = await loadConfig({ cwd: fixture('empty'), env: {} });
    expect(bare.config.runtimeAgent.nodeName).toBe(os.hostname());
  });

  it('--config naming a missing file, or a file with a syntax error, is a ConfigError (exit 2)', async () => {
    const missing = await configErrorOf(() => loadConfig({ configPath: fixture('nope.yaml'), env: {} }));
    expect(missing.exitCode).toBe(2);
    expect(missing.problems).toEqual([{ path: '--config', message: 'file does not exist' }]);

    const noKey = await configErrorOf(() => loadConfig({ configPath: fixture('empty/package.json'), env: {} }));
    expect(noKey.problems).toEqual([{ path: 'stella', message: 'package.json has no "stella" key' }]);

    const dir = mkdtempSync(path.join(os.tmpdir(), 'stella-config-'));
    const file = path.join(dir, 'broken.yaml');
    writeFileSync(file, 'runtime_agent:\n  observation_store:\n    postgres: {url: "postgres://u:s3cr3t@db/x"\n');
    const broken = await configErrorOf(() => loadConfig({ configPath: file, env: {} }));
    expect(broken.source).toBe(file);
    expect(broken.problems[0]?.path).toMatch(/^line \d+, column \d+$/);
    expect(broken.message).not.toContain('s3cr3t');

    const throwing = path.join(dir, 'stella.config.mjs');
    writeFileSync(throwing, 'throw new Error("config module exploded");\n');
    const thrown = await configErrorOf(() => loadConfig({ configPath: throwing, env: {} }));
    expect(thrown.problems).toEqual([{ path: '(module)', message: 'failed to load: config module exploded' }]);
  });
});

describe('environment overrides', () => {
  it('win over the file, convert to the key type, and resolve STELLA_FUNCTION_MAPS against cwd', async () => {
    const { config, userConfig } = await loadConfig({
      configPath: fixture('runbook/stella.config.yaml'),
      cwd: '/srv/app',
      env: {
        STELLA_NODE_NAME: 'env-node',
        STELLA_OBSERVATION_STORE_TYPE: 'valkey',
        STELLA_VALKEY_URL: 'redis://:pw@valkey:6379/2',
        STELLA_POSTGRES_URL: 'postgres://stella:pw@db/stella',
        STELLA_OUTPUT_PATH: '/data/obs/',
        STELLA_FUNCTION_MAPS: 'maps/a.json, /etc/stella/b.json',
        STELLA_PROMETHEUS_PORT: '9999',
        STELLA_PROMETHEUS_HOST: '0.0.0.0',
        STELLA_OTLP_ENDPOINT: 'http://collector:4317',
        STELLA_SAMPLING_RATE: '0.01',
        STELLA_LOG_LEVEL: 'warn',
        STELLA__RUNTIME_AGENT__PROBES__MAX_CONCURRENT: '64',
        STELLA__RUNTIME_AGENT__EXPORT__COMPRESS_ROTATED: 'false',
        STELLA__RUNTIME_AGENT__PROBES__DEFAULT_TYPES: 'uprobe,tracepoint',
        STELLA_OTHER_THING: 'ignored',
        STELLA_NODE_NAME_EMPTY: '',
      },
    });
    const agent = config.runtimeAgent;
    expect(agent.nodeName).toBe('env-node');
    expect(agent.observationStore.type).toBe('valkey');
    expect(agent.observationStore.valkey.url).toBe('redis://:pw@valkey:6379/2');
    expect(agent.observationStore.postgres.url).toBe('postgres://stella:pw@db/stella');
    expect(agent.export.outputPath).toBe('/data/obs/');
    expect(agent.functionMaps).toEqual(['/srv/app/maps/a.json', '/etc/stella/b.json']);
    expect(agent.telemetry.prometheus).toEqual({ enabled: true, host: '0.0.0.0', port: 9999 });
    expect(agent.telemetry.otlp.endpoint).toBe('http://collector:4317');
    expect(agent.probes.samplingRate).toBe(0.01);
    expect(agent.probes.maxConcurrent).toBe(64);
    expect(agent.probes.defaultTypes).toEqual(['uprobe', 'tracepoint']);
    expect(agent.export.compressRotated).toBe(false);
    expect(agent.log.level).toBe('warn');
    // The file's own values stay where env says nothing.
    expect(agent.observationStore.retentionHours).toBe(72);
    expect(userConfig.runtime_agent?.node_name).toBe('env-node');
  });

  it('an empty variable counts as unset', async () => {
    const { config } = await loadConfig({ cwd: fixture('formats/json'), env: { STELLA_NODE_NAME: '' } });
    expect(config.runtimeAgent.nodeName).toBe('from-json');
  });

  it('bad values are reported with the variable name, together with the file problems', async () => {
    const error = await configErrorOf(() =>
      loadConfig({
        cwd: fixture('formats/json'),
        env: {
          STELLA_SAMPLING_RATE: 'lots',
          STELLA_PROMETHEUS_PORT: '70000',
          STELLA_OUTPUT_PATH: 'relative',
          STELLA_LOG_LEVEL: 'loud',
          STELLA_OBSERVATION_STORE_TYPE: 'postgres',
          STELLA__RUNTIME_AGENT__PROBES__MAX_CONCURENT: '8',
        },
      }),
    );
    expect(error).toBeInstanceOf(ConfigError);
    expect(error.problems).toEqual([
      {
        path: 'env STELLA__RUNTIME_AGENT__PROBES__MAX_CONCURENT',
        message:
          'unknown key; did you mean "max_concurrent"? (allowed: max_concurrent, attach_timeout_ms, default_types, sampling_rate, sensitive_paths, mode, modes) (sets runtime_agent.probes.max_concurent)',
      },
      {
        path: 'env STELLA_SAMPLING_RATE',
        message: 'must be a number greater than 0 and at most 1, got "lots" (sets runtime_agent.probes.sampling_rate)',
      },
      {
        path: 'env STELLA_OUTPUT_PATH',
        message:
          'must be an absolute directory path (starting with /), got "relative" (sets runtime_agent.export.output_path)',
      },
      {
        path: 'env STELLA_PROMETHEUS_PORT',
        message: 'must be an integer from 1 to 65535, got 70000 (sets runtime_agent.telemetry.prometheus.port)',
      },
      {
        path: 'env STELLA_LOG_LEVEL',
        message: 'must be one of "debug", "info", "warn", "error", "silent", got "loud" (sets runtime_agent.log.level)',
      },
      {
        path: 'runtime_agent.observation_store.postgres',
        message: 'the postgres store needs url (or STELLA_POSTGRES_URL) or host',
      },
    ]);
  });
});
