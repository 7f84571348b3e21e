// SPDX-License-Identifier: Apache-2.0
import { describe, expect, it } from 'vitest';
import { type CapabilityName, effectiveCapabilities, missingCapabilityHint } from '../src/capabilities.js';

const EACCES = 13;
const EPERM = 1;
const held = (...names: CapabilityName[]) => new Set<CapabilityName>(names);

describe('which capability a refused kernel operation lacked', () => {
  it('reads CapEff bits from /proc/PID/status text', () => {
    // CAP_BPF (39), CAP_PERFMON (38), CAP_SYS_PTRACE (19).
    const caps = effectiveCapabilities('Name:\tnode\nCapEff:\t000000c000080000\n');
    expect([...caps].sort()).toEqual(['CAP_BPF', 'CAP_PERFMON', 'CAP_SYS_PTRACE']);
    expect(effectiveCapabilities('CapEff:\t000001ffffffffff\n').has('CAP_SYS_ADMIN')).toBe(true);
  });

  it('a perf-event uprobe or uretprobe refused without CAP_SYS_ADMIN names it (Linux 6.16+)', () => {
    for (const object of ['uprobe 0xd54e0 in /usr/lib/libc.so.6 for pid 7', 'uretprobe dlopen in /usr/lib/libc.so.6']) {
      expect(missingCapabilityHint('attach', object, EACCES, held('CAP_BPF', 'CAP_PERFMON'))).toMatch(
        /^missing capability CAP_SYS_ADMIN: Linux 6\.16 and later require it for perf-event uprobes/,
      );
      expect(missingCapabilityHint('attach', object, EACCES, held('CAP_SYS_ADMIN'))).toBeUndefined();
    }
  });

  it('a uprobe_multi link through /proc/PID/root refused without CAP_SYS_PTRACE names it', () => {
    const object = 'uprobe_multi (3 offsets) in /proc/42/root/usr/lib/libssl.so.3 for pid 42';
    expect(missingCapabilityHint('attach', object, EACCES, held('CAP_BPF', 'CAP_PERFMON'))).toMatch(
      /^missing capability CAP_SYS_PTRACE: /,
    );
    expect(
      missingCapabilityHint(
        'attach',
        object,
        EACCES,
        held('CAP_BPF', 'CAP_PERFMON', 'CAP_SYS_PTRACE', 'CAP_DAC_READ_SEARCH'),
      ),
    ).toBeUndefined();
  });

  it('a tracepoint refused without CAP_DAC_READ_SEARCH names it; a load without CAP_BPF names that', () => {
    expect(missingCapabilityHint('attach', 'tracepoint syscalls/sys_enter_connect', EACCES, held('CAP_BPF'))).toMatch(
      /^missing capability CAP_DAC_READ_SEARCH: /,
    );
    expect(missingCapabilityHint('load', 'BPF object x.bpf.o', EPERM, held('CAP_PERFMON'))).toBe(
      'missing capability CAP_BPF: loading tracing BPF programs needs CAP_BPF and CAP_PERFMON',
    );
    expect(missingCapabilityHint('load', 'BPF object x.bpf.o', EPERM, held('CAP_PERFMON', 'CAP_BPF'))).toBeUndefined();
  });

  it('says nothing for errors that are not permission errors', () => {
    expect(missingCapabilityHint('attach', 'uprobe 0x1 in /x', 2, held())).toBeUndefined();
  });
});
