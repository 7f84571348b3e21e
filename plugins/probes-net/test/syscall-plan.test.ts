// SPDX-License-Identifier: Apache-2.0
/** The mechanism order and plan (pure), and the syscall ids checked against the objects' BTF. */
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { mechanismOrder, planSyscalls, type SyscallProbe } from '@stella/sdk';
import { describe, expect, it } from 'vitest';
import { FILE_SYSCALLS } from '../../probes-file/src/syscalls.js';
import { NET_SYSCALLS } from '../src/syscalls.js';

describe('mechanism order', () => {
  it('keeps the built-in chain when default_types names none of its mechanisms', () => {
    expect(mechanismOrder(['uprobe'])).toEqual(['kprobe', 'fentry', 'tracepoint']);
    expect(mechanismOrder([])).toEqual(['kprobe', 'fentry', 'tracepoint']);
  });
  it('follows default_types where it names a mechanism, then the rest of the chain', () => {
    expect(mechanismOrder(['uprobe', 'kprobe'])).toEqual(['kprobe', 'fentry', 'tracepoint']);
    expect(mechanismOrder(['tracepoint', 'kretprobe'])).toEqual(['tracepoint', 'kprobe', 'fentry']);
    expect(mechanismOrder(['fentry'])).toEqual(['fentry', 'kprobe', 'tracepoint']);
  });
  it('plans per syscall, skipping what the kernel lacks with the reason', () => {
    const probes: SyscallProbe[] = [
      { syscall: 'connect', id: 1 },
      { syscall: 'openat2', id: 3, exit: true },
    ];
    const plans = planSyscalls(
      probes,
      {
        kprobe: { ok: false, reason: 'no kprobes' },
        fentry: { ok: true },
        tracepoint: { connect: { ok: true }, openat2: { ok: false, reason: 'no sys_enter_openat2' } },
      },
      mechanismOrder(['uprobe', 'kprobe']),
    );
    expect(plans).toEqual([
      {
        syscall: 'connect',
        candidates: ['fentry', 'tracepoint'],
        skipped: [{ mechanism: 'kprobe', reason: 'no kprobes' }],
      },
      {
        syscall: 'openat2',
        candidates: ['fentry'],
        skipped: [
          { mechanism: 'kprobe', reason: 'no kprobes' },
          { mechanism: 'tracepoint', reason: 'no sys_enter_openat2' },
        ],
      },
    ]);
  });
});

/** `enum <name>` values from the compiled object's BTF (the C header is the source of truth). */
function btfEnum(objectPath: string, name: string): Record<string, number> {
  const text = execFileSync('bpftool', ['btf', 'dump', 'file', objectPath], { encoding: 'utf8' });
  const start = text.indexOf(`ENUM '${name}'`);
  expect(start).toBeGreaterThanOrEqual(0);
  const values: Record<string, number> = {};
  for (const line of text.slice(start).split('\n').slice(1)) {
    const m = /^\s+'(\w+)' val=(\d+)/.exec(line);
    if (!m) break;
    values[m[1]!] = Number(m[2]);
  }
  return values;
}

describe('syscall ids', () => {
  it('match enum stella_net_syscall in net_syscalls.bpf.o', () => {
    const object = fileURLToPath(new URL('../bpf/net_syscalls.bpf.o', import.meta.url));
    const fromBtf = btfEnum(object, 'stella_net_syscall');
    expect(Object.fromEntries(NET_SYSCALLS.map((p) => [`STELLA_NET_${p.syscall.toUpperCase()}`, p.id]))).toEqual(
      fromBtf,
    );
  });
  it('match enum stella_file_syscall in file_access.bpf.o', () => {
    const object = fileURLToPath(new URL('../../probes-file/bpf/file_access.bpf.o', import.meta.url));
    const fromBtf = btfEnum(object, 'stella_file_syscall');
    expect(Object.fromEntries(FILE_SYSCALLS.map((p) => [`STELLA_FILE_${p.syscall.toUpperCase()}`, p.id]))).toEqual(
      fromBtf,
    );
  });
});
