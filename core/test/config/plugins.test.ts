// SPDX-License-Identifier: Apache-2.0
import { defineStorePlugin, isProbePlugin, type ProbePlugin } from '@stella/sdk';
import { describe, expect, it } from 'vitest';
import { loadConfig, resolvePluginSpecs } from '../../src/config/index.js';
import { fixture } from './helpers.js';

const builtinStore = defineStorePlugin({ type: 'memory', create: async () => Promise.reject(new Error('unused')) });

describe('resolvePluginSpecs', () => {
  it('uses the built-ins when the config has no plugins key', async () => {
    expect(await resolvePluginSpecs(undefined, { baseDir: '/', builtins: [builtinStore] })).toEqual({
      plugins: [builtinStore],
      failures: [],
    });
    expect(await resolvePluginSpecs(undefined, { baseDir: '/', builtins: async () => [builtinStore] })).toEqual({
      plugins: [builtinStore],
      failures: [],
    });
  });

  it('loads modules next to the config; one that throws, is missing or exports no plugin is reported, the others load', async () => {
    const { config } = await loadConfig({ cwd: fixture('plugins'), env: {} });
    const { plugins, failures } = await resolvePluginSpecs(config.plugins, {
      baseDir: config.configDir,
      builtins: () => {
        throw new Error('built-ins must not be loaded when plugins are listed');
      },
    });

    expect(plugins.map((p) => (p.kind === 'probe' ? p.name : p.type))).toEqual(['fixture-store', 'fixture-probes']);
    const probe = plugins.find(isProbePlugin) as ProbePlugin<{ label: string }>;
    expect(probe.options).toEqual({ label: 'from-yaml' });

    expect(failures.map((f) => f.spec)).toEqual(['./throws.mjs', './missing.mjs', './not-a-plugin.mjs']);
    expect(failures[0]?.error.message).toBe('plugin "./throws.mjs" failed to load: boom while importing');
    expect(failures[1]?.error.message).toMatch(/^plugin "\.\/missing\.mjs" failed to load: .*missing\.mjs/);
    expect(failures[2]?.error.message).toBe(
      'plugin "./not-a-plugin.mjs" does not export a plugin: its default export must be a plugin object (defineProbePlugin/defineStorePlugin), a list of them, or a factory returning one',
    );
  });

  it('keeps plugin objects from stella.config.ts as they are, and reports a factory that throws', async () => {
    const { plugins, failures } = await resolvePluginSpecs(
      [builtinStore, { module: './good-probe.ts', options: { label: 'x' } }, { module: './throws.mjs' }],
      { baseDir: fixture('plugins'), builtins: [] },
    );
    expect(plugins[0]).toBe(builtinStore);
    expect((plugins[1] as ProbePlugin<{ label: string }>).options.label).toBe('x');
    expect(failures).toHaveLength(1);
  });
});

describe('first-party plugins named in YAML', () => {
  it('resolve by package name from a config directory with no node_modules (Stella’s own install)', async () => {
    const { mkdtemp, rm } = await import('node:fs/promises');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const dir = await mkdtemp(join(tmpdir(), 'stella-etc-'));
    try {
      const { plugins, failures } = await resolvePluginSpecs(['@stella/probes-net', '@stella/no-such-plugin'], {
        baseDir: dir,
        builtins: [],
      });
      expect(plugins.map((p) => (p as ProbePlugin).name)).toEqual(['@stella/probes-net']);
      expect(failures.map((f) => f.error.message)).toEqual([
        `plugin "@stella/no-such-plugin" failed to load: Cannot find module '@stella/no-such-plugin'`,
      ]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
