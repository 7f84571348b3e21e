// SPDX-License-Identifier: Apache-2.0
import { readFileSync } from 'node:fs';
import { defineProbePlugin, defineStorePlugin } from '@stella/sdk';
import { Ajv } from 'ajv';
import { describe, expect, it } from 'vitest';
import {
  assertStoreTypeServed,
  CONFIG_SCHEMA_URL,
  collectConfigProblems,
  loadConfig,
  parseByteSize,
  resolveConfig,
  validateUserConfig,
} from '../../src/config/index.js';
import { configErrorOf, fixture } from './helpers.js';

describe('a config with many mistakes', () => {
  it('reports every problem at once, each with key path, bad value and what is allowed', async () => {
    const error = await configErrorOf(() => loadConfig({ configPath: fixture('bad/stella.config.yaml'), env: {} }));
    expect(error.exitCode).toBe(2);
    expect(error.message).toBe(
      [
        `invalid configuration in ${fixture('bad/stella.config.yaml')}: 16 problems`,
        '  - export: unknown key; did you mean "runtime_agent.export"? Agent settings go under runtime_agent',
        '  - runtime_agent.node_name: must not be empty, got ""',
        '  - runtime_agent.observation_store.retention_hours: must be an integer ≥ 1, got -1',
        '  - runtime_agent.observation_store.postgres.pasword: unknown key; did you mean "password"? (allowed: url, host, port, user, password, database, schema, ssl)',
        '  - runtime_agent.observation_store.postgres.url: must be a postgres:// or postgresql:// URL, got "mysql://stella:***@db:5432/stella"',
        '  - runtime_agent.probes.samplingRate: unknown key; did you mean "sampling_rate"? (allowed: max_concurrent, attach_timeout_ms, default_types, sampling_rate, sensitive_paths, mode, modes)',
        '  - runtime_agent.probes.max_concurrent: must be an integer ≥ 1, got 0',
        '  - runtime_agent.probes.default_types[1]: must be one of "uprobe", "uretprobe", "kprobe", "kretprobe", "fentry", "tracepoint", "raw_tracepoint", got "xprobe"',
        '  - runtime_agent.probes.sampling_rate: must be a number greater than 0 and at most 1, got 1.5',
        '  - runtime_agent.export.flush_interval_ms: must be an integer ≥ 1, got "5s"',
        '  - runtime_agent.export.output_path: must be an absolute directory path (starting with /), got "relative/observations"',
        '  - runtime_agent.buffer.max_bytes: must be a byte count, or a size such as "64MiB", "64MB", "512K" (K/M/G/T are powers of 1024), got "lots"',
        '  - runtime_agent.telemetry.prometheus.port: must be an integer from 1 to 65535, got 70000',
        '  - runtime_agent.telemetry.otlp.headers.authorization: must be a string, got a hidden value',
        '  - runtime_agent.log.level: must be one of "debug", "info", "warn", "error", "silent", got "verbose"',
        '  - runtime_agent.targets[0]: selects no process: give at least one of executables, cgroups, container_ids, pids, or all_processes: true',
      ].join('\n'),
    );
    // The secrets in that file appear nowhere in what the user (or a log) sees.
    for (const secret of ['hunter2-secret', '987654321', 'tok3n-secret']) {
      expect(error.message).not.toContain(secret);
      expect(JSON.stringify(error.problems)).not.toContain(secret);
    }
  });

  it('suggests the key meant: typos, camelCase, and settings written outside runtime_agent', () => {
    expect(
      collectConfigProblems({
        runtime_agent: {
          observation_store: { retension_hours: 1 },
          telemetry: { prometheus: { prot: 1 } },
          exprot: {},
        },
        probes: { sampling_rate: 0.01 },
        plugin: [],
        zzzzzzzz: 1,
      }),
    ).toEqual([
      {
        path: 'probes',
        message: 'unknown key; did you mean "runtime_agent.probes"? Agent settings go under runtime_agent',
      },
      { path: 'plugin', message: 'unknown key; did you mean "plugins"? (allowed: runtime_agent, plugins)' },
      { path: 'zzzzzzzz', message: 'unknown key (allowed: runtime_agent, plugins)' },
      {
        path: 'runtime_agent.exprot',
        message: expect.stringMatching(/^unknown key; did you mean "export"\? \(allowed: node_name, function_maps, /),
      },
      {
        path: 'runtime_agent.observation_store.retension_hours',
        message:
          'unknown key; did you mean "retention_hours"? (allowed: type, retention_hours, max_batch_size, postgres, valkey)',
      },
      {
        path: 'runtime_agent.telemetry.prometheus.prot',
        message: 'unknown key; did you mean "port"? (allowed: enabled, host, port)',
      },
    ]);
  });

  it('checks what the schema cannot: URLs with hosts, a postgres store with somewhere to connect, sizes', () => {
    expect(
      collectConfigProblems({
        runtime_agent: {
          observation_store: { type: 'postgres', valkey: { url: 'redis://' } },
          telemetry: { otlp: { endpoint: 'http://:4317' } },
          buffer: { max_bytes: '1K' },
          targets: [
            { service: 'api', pids: [] },
            { service: 'all', all_processes: true },
          ],
        },
      }),
    ).toEqual([
      { path: 'runtime_agent.targets[0]', message: expect.stringMatching(/^selects no process/) },
      {
        path: 'runtime_agent.observation_store.postgres',
        message: 'the postgres store needs url (or STELLA_POSTGRES_URL) or host',
      },
      { path: 'runtime_agent.observation_store.valkey.url', message: 'must be a URL with a host, got "redis://"' },
      { path: 'runtime_agent.telemetry.otlp.endpoint', message: 'must be a URL with a host, got "http://:4317"' },
      { path: 'runtime_agent.buffer.max_bytes', message: 'must be at least 4096 bytes (4 KiB), got "1K"' },
    ]);
  });

  it('takes a Valkey Cluster as cluster_nodes, and refuses a url or db beside it and a node without a port', () => {
    expect(
      collectConfigProblems({
        runtime_agent: {
          observation_store: {
            type: 'valkey',
            valkey: { cluster_nodes: ['valkey-0.valkey:6379', '10.0.0.7:6380'], wait_replicas: 1, db: 0 },
          },
        },
      }),
    ).toEqual([]);
    expect(
      collectConfigProblems({
        runtime_agent: {
          observation_store: {
            type: 'valkey',
            valkey: { cluster_nodes: ['valkey-0.valkey:6379'], url: 'redis://valkey:6379/0', db: 2 },
          },
        },
      }),
    ).toEqual([
      {
        path: 'runtime_agent.observation_store.valkey.url',
        message: expect.stringMatching(/^is not used with cluster_nodes/),
      },
      {
        path: 'runtime_agent.observation_store.valkey.db',
        message: expect.stringMatching(/^is not used with cluster_nodes/),
      },
    ]);
    const noPort = collectConfigProblems({
      runtime_agent: { observation_store: { valkey: { cluster_nodes: ['valkey-0'] } } },
    });
    expect(noPort.map((p) => p.path)).toEqual(['runtime_agent.observation_store.valkey.cluster_nodes[0]']);
  });

  it('reports a root that is not a mapping, and plugins entries that are neither specifiers nor plugins', () => {
    expect(collectConfigProblems(['runtime_agent'])).toEqual([
      { path: '(root)', message: 'must be a mapping of settings, got a list' },
    ]);
    expect(
      collectConfigProblems({
        plugins: ['', { module: './x.js', option: {} }, 42, { kind: 'probe' }, { kind: 'nonsense', start: () => {} }],
      }),
    ).toEqual([
      { path: 'plugins[0]', message: 'must not be empty, got ""' },
      {
        path: 'plugins[1].option',
        message: 'unknown key; did you mean "options"? (allowed: module, options)',
      },
      { path: 'plugins[2]', message: 'must be a non-empty string or a mapping, got 42' },
      {
        path: 'plugins[4]',
        message:
          'must be a plugin object from defineProbePlugin/defineStorePlugin, a module specifier, or {module, options}',
      },
    ]);
  });

  it('accepts plugin objects, as stella.config.ts passes them', () => {
    const probe = defineProbePlugin({
      name: 'p',
      categories: ['crypto'],
      catalogue: [],
      bpfObjects: [],
      detect: async () => ({ available: true }),
      start: async () => ({ stop: async () => {} }),
    });
    const config = validateUserConfig(
      { plugins: [probe, './local.js', { module: 'pkg', options: { a: 1 } }] },
      { source: 't' },
    );
    expect(resolveConfig(config, { configDir: '/cfg', env: {} }).plugins).toEqual([
      probe,
      { module: './local.js', options: {} },
      { module: 'pkg', options: { a: 1 } },
    ]);
  });
});

describe('byte sizes', () => {
  it.each([
    [67108864, 67108864],
    ['64MB', 64 * 1024 * 1024],
    ['64MiB', 64 * 1024 * 1024],
    ['64m', 64 * 1024 * 1024],
    ['512 KiB', 512 * 1024],
    ['1.5G', 1.5 * 1024 ** 3],
    ['100B', 100],
    ['100', 100],
  ])('%s → %d bytes', (input, bytes) => {
    expect(parseByteSize(input)).toBe(bytes);
  });

  it.each(['lots', '64XB', '5ib', '-1', '', 1.5, -3])('%s is not a size', (input) => {
    expect(parseByteSize(input)).toBeUndefined();
  });
});

describe('the shipped JSON Schema', () => {
  const schema = JSON.parse(readFileSync(CONFIG_SCHEMA_URL, 'utf8'));

  it('compiles under ajv strict mode (draft-07, for YAML/JSON editors)', () => {
    expect(schema.$schema).toBe('http://json-schema.org/draft-07/schema#');
    expect(() => new Ajv({ strict: true, allowUnionTypes: true }).compile(schema)).not.toThrow();
  });

  it('documents the same defaults the resolver applies', () => {
    const resolved = resolveConfig({}, { configDir: '/', env: { NODE_NAME: 'n' } }) as unknown as Record<
      string,
      unknown
    >;
    const checked: string[] = [];
    const walk = (node: Record<string, unknown>, userPath: string[]) => {
      const properties = (node.properties ?? {}) as Record<string, Record<string, unknown>>;
      for (const [key, child] of Object.entries(properties)) {
        const here = [...userPath, key];
        if ('default' in child && !['function_maps', 'targets'].includes(key)) {
          const camel = here.map((k) => k.replace(/_([a-z])/g, (_m, c: string) => c.toUpperCase()));
          const value = camel.reduce<unknown>((n, k) => (n as Record<string, unknown> | undefined)?.[k], resolved);
          expect(value, here.join('.')).toEqual(child.default);
          checked.push(here.join('.'));
        }
        walk(child, here);
      }
    };
    walk(schema, []);
    expect(checked.length).toBeGreaterThan(25);
  });
});

describe('store type check (called by the agent once plugins are loaded)', () => {
  const memory = defineStorePlugin({ type: 'memory', create: async () => Promise.reject(new Error('unused')) });

  it('passes when a loaded store plugin serves the type, and names the available types when none does', () => {
    const config = resolveConfig({ runtime_agent: { observation_store: { type: 'postgress' } } }, { configDir: '/' });
    expect(() => assertStoreTypeServed(resolveConfig({}, { configDir: '/' }), [memory], 'x.yaml')).not.toThrow();
    const error = (() => {
      try {
        assertStoreTypeServed(config, [memory], 'x.yaml');
      } catch (e) {
        return e as Error;
      }
      return undefined;
    })();
    expect(error?.message).toBe(
      'invalid configuration in x.yaml: 1 problem\n' +
        '  - runtime_agent.observation_store.type: no loaded store plugin serves "postgress" (available: one of "memory"); add the store plugin to plugins or pick an available type',
    );
  });
});
