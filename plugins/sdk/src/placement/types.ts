// SPDX-License-Identifier: Apache-2.0
/** Public types of uprobe placement. */

/**
 * Where to attach an entry uprobe for one function, and why there.
 *
 * `kind: 'emulated'` means the instruction at `offset` is one the kernel emulates (a hit costs
 * under 1 µs instead of ~10 µs for a single-stepped one) and every execution of the entry reaches
 * it exactly once, with nothing else reaching it. `kind: 'entry'` means the probe stays on the
 * symbol's first instruction, for the reason given.
 */
export interface UprobePlacement {
  /** File offset to attach the uprobe at (what `perf_event_open`/`uprobe_multi` take). */
  offset: number;
  /** Bytes past the symbol's entry; 0 at the entry. */
  delta: number;
  /** The instruction at `offset`, AT&T syntax (`je 0x1f6750`). */
  instruction: string;
  kind: 'emulated' | 'entry';
  /** `entry+3, je, emulated`, `entry, push, emulated` or `entry: <why not further>`. */
  reason: string;
  /**
   * Registers the skipped instructions write (`rsp` when they move the stack). A BPF program that
   * reads arguments or the return address must attach at the entry when this is not empty;
   * uretprobes always attach at the entry (the kernel hijacks the return address at `(%rsp)`).
   */
  registersWritten: string[];
}

/** Placement policy; the defaults keep counts exact in every process, crashing ones included. */
export interface PlacementOptions {
  /**
   * Also move past plain memory accesses through a pointer (`cmpq $0,0x30(%rdi)`, the first
   * instruction of `SSL_connect`). Such an access faults the same wherever the probe is, but a
   * call that faults there is counted by an entry probe and not by the moved one: one call of a
   * process that is dying of SIGSEGV (or one whose handler recovers from it). The reason then ends
   * with `, past a possible fault at +N`. Default false.
   */
  allowFaultingAccess?: boolean;
}

/** One function to place: by symbol name, or by its file offset (and size when known). */
export type PlacementTarget = { symbol: string } | { fileOffset: number; size?: number };
