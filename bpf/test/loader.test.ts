// SPDX-License-Identifier: Apache-2.0
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { AddonNotFoundError, addonCandidates, loadAddon } from '../src/index.js';
import { bpfDir } from './helpers.js';

describe('native addon loader', () => {
  it('lists every path it tried and the build command when the binary is missing', () => {
    const tried = ['/nonexistent/a/stella_bpf.node', '/nonexistent/b/stella_bpf.node'];
    let error: unknown;
    try {
      loadAddon(tried);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(AddonNotFoundError);
    expect((error as AddonNotFoundError).tried).toEqual(tried);
    expect((error as Error).message).toBe(
      'The @stella/bpf native addon could not be loaded (tried /nonexistent/a/stella_bpf.node, /nonexistent/b/stella_bpf.node): build it with `npm run build:bpf`.',
    );
  });

  it('names the file and the loader error when a candidate exists but is not an addon', () => {
    const notAnAddon = join(bpfDir, 'binding.gyp');
    expect(() => loadAddon([notAnAddon])).toThrow(`${notAnAddon} failed to load`);
  });

  it('looks in $STELLA_BPF_ADDON first, then node-gyp Release and Debug outputs', () => {
    const saved = process.env.STELLA_BPF_ADDON;
    process.env.STELLA_BPF_ADDON = '/opt/custom/stella_bpf.node';
    try {
      expect(addonCandidates()).toEqual([
        '/opt/custom/stella_bpf.node',
        join(bpfDir, 'build', 'Release', 'stella_bpf.node'),
        join(bpfDir, 'build', 'Debug', 'stella_bpf.node'),
      ]);
    } finally {
      if (saved === undefined) delete process.env.STELLA_BPF_ADDON;
      else process.env.STELLA_BPF_ADDON = saved;
    }
  });
});
