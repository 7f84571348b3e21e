// SPDX-License-Identifier: Apache-2.0
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ATTACH_COOKIES_MISSING, detectKernelFeatures } from '@stella/bpf';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStella } from '../../support/cli.js';
import { canBpf, functionMap, LIBDIR, tempDir } from './support.js';

describe.skipIf(!canBpf)('stella doctor and stella plugins list (real CLI)', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await tempDir('stella-doctor-');
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('doctor --format json: checklist passes here except a map binary whose build-id differs (exit 1)', async () => {
    const mapPath = join(dir, 'map.json');
    const call = {
      library: 'libsodium.so.23',
      binaryPath: `${LIBDIR}/libsodium.so.23`,
      purl: 'pkg:deb/debian/libsodium23@1',
    };
    await writeFile(
      mapPath,
      JSON.stringify(
        functionMap('doc', [
          { ...call, function: 'crypto/crypto_sign', buildId: 'ab'.repeat(20) },
          { ...call, function: 'crypto/sodium_init', binaryPath: '/nonexistent/libx.so' },
        ]),
      ),
    );
    const cli = startStella(['doctor', '--function-map', mapPath, '--format', 'json']);
    expect(await cli.exited).toBe(1);
    const { checks, failed } = JSON.parse(cli.stdout()) as {
      checks: { check: string; status: string; detail: string }[];
      failed: number;
    };
    const by = (name: string) => checks.find((c) => c.check === name);
    expect(by('kernel version')?.status).toBe('pass');
    expect(by('BTF')?.status).toBe('pass');
    expect(by('capabilities')?.status).toBe('pass');
    expect(by('uprobe')?.status).toBe('pass');
    // kprobes are optional (net and file fall back to tracepoints): a warning where the kernel lacks them.
    expect(by('kprobe')?.status).toBe(detectKernelFeatures().kprobes ? 'pass' : 'warn');
    expect(by(`binary ${LIBDIR}/libsodium.so.23`)).toMatchObject({ status: 'fail' });
    expect(by(`binary ${LIBDIR}/libsodium.so.23`)?.detail).toContain('regenerate the map');
    expect(by('binary /nonexistent/libx.so')?.status).toBe('fail');
    // Before Linux 5.15 the uprobe plugins refuse, each with the sentence naming the missing helper;
    // the syscall plugins still attach.
    const cookies = detectKernelFeatures().attachCookies !== false;
    expect(by('attach cookies')?.status).toBe(cookies ? 'pass' : 'fail');
    if (!cookies) expect(by('attach cookies')?.detail).toBe(ATTACH_COOKIES_MISSING);
    const trials = checks.filter((c) => c.check.startsWith('trial attach'));
    const refused = trials.filter((c) => c.status !== 'pass');
    if (cookies) expect(refused).toEqual([]);
    else {
      expect(refused.map((c) => c.check)).toContain('trial attach @stella/probes-crypto');
      expect(refused.every((c) => c.detail === ATTACH_COOKIES_MISSING)).toBe(true);
      expect(trials.find((c) => c.check === 'trial attach @stella/probes-net')?.status).toBe('pass');
    }
    expect(failed).toBe(2 + (cookies ? 0 : 1 + refused.length));
  });

  it('plugins list --format json names each plugin with categories, objects and attach support', async () => {
    const cli = startStella(['plugins', 'list', '--format', 'json']);
    expect(await cli.exited).toBe(0);
    const { plugins } = JSON.parse(cli.stdout()) as {
      plugins: { name: string; available: boolean; categories: string[] }[];
    };
    const crypto = plugins.find((p) => p.name === '@stella/probes-crypto');
    // Before Linux 5.15 the uprobe plugins are listed, unavailable (docs/KERNELS.md).
    const cookies = detectKernelFeatures().attachCookies !== false;
    expect(crypto).toMatchObject({ available: cookies, categories: ['crypto', 'tls'] });
  });
});
