// SPDX-License-Identifier: Apache-2.0
/** Detection without loading must agree with what attaching really does on this kernel. */
import { beforeAll, describe, expect, it } from 'vitest';
import { BpfObject, createBpfApi, detectKernelFeatures, uprobeMultiSupported } from '../src/index.js';
import { attachCookiesMissing, bpfRootReason, COOKIE_PROGRAMS, ensureBuilt, fixtureObject } from './helpers.js';

// Runs before Linux 5.15 too (the kernel matrix's 5.10): detection matters most where kprobes are the path.
const skipReason = bpfRootReason();
if (skipReason) console.warn(`skipping kernel feature detection tests: ${skipReason}`);

describe.skipIf(skipReason)('detectKernelFeatures()', () => {
  beforeAll(() => ensureBuilt());

  it('kprobe and syscall tracepoint detection agree with real attach attempts', () => {
    const features = detectKernelFeatures({ trialLoadFentry: true });
    console.log(`kernel features: ${JSON.stringify(features)}`);
    expect(features.btf).toBe(true);
    expect(features.uprobes).toBe(true);
    expect(features.ringbuf).toBe(true);
    expect(typeof features.fentry).toBe('boolean');
    const obj = new BpfObject(fixtureObject);
    try {
      if (attachCookiesMissing()) for (const program of COOKIE_PROGRAMS) obj.setAutoload(program, false);
      obj.load();
      let kprobeAttached = true;
      try {
        obj.attachKprobe({ program: 'fixture_kprobe_openat2', symbol: 'do_sys_openat2' }).destroy();
      } catch {
        kprobeAttached = false;
      }
      expect(features.kprobes).toBe(kprobeAttached);
      let tracepointAttached = true;
      try {
        obj
          .attachTracepoint({
            program: 'fixture_plain_sys_enter_getppid',
            category: 'syscalls',
            name: 'sys_enter_getppid',
          })
          .destroy();
      } catch {
        tracepointAttached = false;
      }
      expect(features.syscallTracepoints).toBe(tracepointAttached);
      if (features.syscallTracepoints) expect(features.tracefsPath).toBeDefined();
    } finally {
      obj.close();
    }
  });

  it('uprobeMultiSupported() says why not when the trial cannot even start', async () => {
    const verdict = await uprobeMultiSupported('/nonexistent/uprobe_multi_probe.bpf.o');
    expect(verdict.supported).toBe(false);
    expect(verdict.reason).toBe(
      'failed to open BPF object /nonexistent/uprobe_multi_probe.bpf.o: No such file or directory (ENOENT)',
    );
  });

  it('the BpfApi caches its detection and opens objects', () => {
    const api = createBpfApi();
    expect(api.features()).toBe(api.features());
    const handle = api.open(fixtureObject);
    expect(handle.programNames()).toContain('stella_uprobe_call');
    handle.close();
  });
});
