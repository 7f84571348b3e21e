// SPDX-License-Identifier: Apache-2.0
import { describe, expect, it } from 'vitest';
import { capabilityChecks } from '../../src/doctor/checks.js';

const status = (hex: string) => `Name:\tnode\nCapEff:\t${hex}\n`;
const rows = (hex: string, uid: number) =>
  Object.fromEntries(capabilityChecks(status(hex), uid).map((c) => [c.check, `${c.status} ${c.detail}`]));

describe('doctor: one row per feature and the capability it needs', () => {
  it('uid 65534 with CAP_BPF, CAP_PERFMON and CAP_SYS_PTRACE: loads, sees other users, lacks tracefs and perf-event uprobes', () => {
    const r = rows('000000c000080000', 65534);
    expect(r.capabilities).toBe('pass effective: CAP_SYS_PTRACE, CAP_PERFMON, CAP_BPF');
    expect(r["capability for other users' processes"]).toBe('pass CAP_SYS_PTRACE');
    expect(r['capability for perf-event uprobes']).toMatch(
      /^warn missing capability CAP_SYS_ADMIN: uprobe_multi links work/,
    );
    expect(r['capability for tracefs']).toMatch(/^warn missing capability CAP_DAC_READ_SEARCH: /);
  });

  it('uid 0 owns tracefs; without CAP_BPF and CAP_SYS_ADMIN nothing loads', () => {
    const r = rows('0000004000000000', 0); // CAP_PERFMON only
    expect(r['capability for tracefs']).toBe('pass uid 0 owns tracefs');
    expect(r.capabilities).toMatch(
      /^fail need CAP_BPF \+ CAP_PERFMON \(or CAP_SYS_ADMIN\) to load BPF; have: CAP_PERFMON$/,
    );
    expect(r["capability for other users' processes"]).toMatch(/^warn missing capability CAP_SYS_PTRACE: /);
  });
});
