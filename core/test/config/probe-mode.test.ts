// SPDX-License-Identifier: Apache-2.0
import { probeModeOf } from '@stella/sdk';
import { describe, expect, it } from 'vitest';
import { probeTuningOf, resolveConfig, validateUserConfig } from '../../src/config/index.js';
import { configErrorOf } from './helpers.js';

const tuningOf = (probes: Record<string, unknown>, exportSettings: Record<string, unknown> = {}) =>
  probeTuningOf(
    resolveConfig(validateUserConfig({ runtime_agent: { probes, export: exportSettings } }, { source: 't' }), {
      configDir: '/cfg',
      env: {},
    }),
  );

const digest = { functionId: 'crypto/EVP_DigestUpdate', category: 'crypto' as const };
const connect = { functionId: 'tls/SSL_connect', category: 'tls' as const };

describe('probes.mode and probes.modes', () => {
  it('falls back to the catalogue default when the config says nothing', () => {
    const tuning = tuningOf({});
    expect(probeModeOf(digest, 'presence', tuning)).toBe('presence');
    expect(probeModeOf(connect, 'count', tuning)).toBe('count');
  });

  it('lets a function id win over its category, and a category over mode', () => {
    const tuning = tuningOf({ mode: 'presence', modes: { crypto: 'count', 'crypto/EVP_DigestUpdate': 'presence' } });
    expect(probeModeOf(digest, 'count', tuning)).toBe('presence');
    expect(probeModeOf({ functionId: 'crypto/EVP_DigestInit_ex', category: 'crypto' }, 'presence', tuning)).toBe(
      'count',
    );
    expect(probeModeOf(connect, 'count', tuning)).toBe('presence');
  });

  it('windows presence by the aggregation window, else by the verifier interval', () => {
    expect(tuningOf({}).presenceWindowMs).toBe(15_000);
    expect(tuningOf({}, { aggregation_window_ms: 2000 }).presenceWindowMs).toBe(2000);
  });

  it('names the key path of a bad mode', async () => {
    const error = await configErrorOf(() =>
      validateUserConfig(
        { runtime_agent: { probes: { mode: 'sampled', modes: { crypto: 'exact' } } } },
        { source: 't' },
      ),
    );
    expect(error.exitCode).toBe(2);
    expect(error.message).toContain('runtime_agent.probes.mode: must be one of "count", "presence", got "sampled"');
    expect(error.message).toContain(
      'runtime_agent.probes.modes.crypto: must be one of "count", "presence", got "exact"',
    );
  });

  it('refuses a key that is neither a category nor a function id', async () => {
    const error = await configErrorOf(() =>
      validateUserConfig({ runtime_agent: { probes: { modes: { 'Crypto Stuff': 'count' } } } }, { source: 't' }),
    );
    expect(error.message).toContain('runtime_agent.probes.modes');
  });
});
