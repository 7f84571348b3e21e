// SPDX-License-Identifier: Apache-2.0
/**
 * The names and numbers user space shares with every object built on the SDK's headers
 * (bpf/include/stella/): maps, `const volatile` globals, programs, record kinds and the constants
 * of `enum stella_abi`. The byte layouts are in layout.ts. `@stella/sdk/abi-check` compares all of
 * them with a compiled object's BTF, so a rename on one side fails a test instead of a probe.
 */

/** Maps every Stella object has (ringbuf, drops, aggregate and target headers). */
export const StellaMaps = {
  events: 'stella_events',
  drops: 'stella_drops',
  aggregates: 'stella_agg',
  targetPids: 'stella_target_pids',
  targetCgroups: 'stella_target_cgroups',
  targetExes: 'stella_target_exes',
} as const;

/** Presence mode's names (`stella/presence.bpf.h`): only in objects with the uprobe call programs. */
export const PresenceNames = {
  /** Map: the current window's number (one __u64 at key 0). */
  window: 'stella_presence_window',
  /** Map: (cookie, pid) -> window last reported. */
  seen: 'stella_presence_seen',
  /** `const volatile __u8[PRESENCE_COOKIES]`: 1 at a presence probe's cookie. */
  cookies: 'stella_presence_cookies',
} as const;

/** `const volatile` tunables, each a __u32 set before load. */
export const StellaGlobals = {
  filterTargets: 'stella_filter_targets',
  aggregate: 'stella_aggregate',
  sampleThreshold: 'stella_sample_threshold',
  ringbufWakeup: 'stella_rb_wakeup',
} as const;

/**
 * `const volatile __u32 stella_arg_reads[STELLA_ARG_COOKIES]` (argument.bpf.h): per cookie, which
 * argument the generic uprobe program reads at the call (`encodeArgumentRead`).
 */
export const ARGUMENT_READS_GLOBAL = 'stella_arg_reads';

/** `STELLA_PRESENCE_COOKIES`: request indexes at or above this always count every call. */
export const PRESENCE_COOKIES = 1024;

/** Programs the SDK attaches by name. */
export const StellaPrograms = {
  uprobeCall: 'stella_uprobe_call',
  uretprobeCall: 'stella_uretprobe_call',
  /** `stella_uprobe_call` as uprobe.multi, for probes in presence mode. */
  uprobePresence: 'stella_uprobe_presence',
  libraryLoaded: 'stella_library_loaded',
  trackExec: 'stella_track_exec',
  trackFork: 'stella_track_fork',
  trackExit: 'stella_track_exit',
} as const;

/** The exec/fork/exit tracker of target.bpf.h, attached when the kernel filters by target. */
export const TARGET_TRACKER_PROGRAMS = [
  StellaPrograms.trackExec,
  StellaPrograms.trackFork,
  StellaPrograms.trackExit,
] as const;

/** `enum stella_event_kind`: record kinds; plugin kinds start at `pluginBase`. */
export const EventKind = {
  call: 1,
  syscall: 2,
  file: 3,
  return: 4,
  pluginBase: 100,
  libraryLoaded: 190,
} as const;

/** `enum stella_abi`: the numbers beyond the structs. */
export const StellaAbi = {
  /** `service` of a record from an object that runs unfiltered. */
  serviceNone: 0xffffffff,
  /** What the kernel's target lookup returns for a process no rule claims. */
  notTarget: 0xfffffffe,
  /** Flag in a `stella_target_pids` value claimed at exec (a later exec clears the claim). */
  targetViaExec: 0x80000000,
  serviceMask: 0x7fffffff,
  /** A syscall aggregate's cookie is `service << 32 | syscall id`. */
  syscallCookieShift: 32,
  /** Cookies below this may read an argument at the call (argument.bpf.h). */
  argCookies: 1024,
  /** The `arg` of a call whose probe reads none, or whose read failed. */
  argUnread: 0xffffffff,
  /** The `arg` of a call whose pointer to read through was NULL. */
  argNull: 0xfffffffe,
} as const;

/** The C enumerator name of each `EventKind` / `StellaAbi` member, as BTF spells it. */
export const EVENT_KIND_ENUMERATORS: Record<keyof typeof EventKind, string> = {
  call: 'STELLA_EVENT_CALL',
  syscall: 'STELLA_EVENT_SYSCALL',
  file: 'STELLA_EVENT_FILE',
  return: 'STELLA_EVENT_RETURN',
  pluginBase: 'STELLA_EVENT_PLUGIN_BASE',
  libraryLoaded: 'STELLA_EVENT_LIBRARY_LOADED',
};
export const ABI_ENUMERATORS: Record<keyof typeof StellaAbi, string> = {
  serviceNone: 'STELLA_SERVICE_NONE',
  notTarget: 'STELLA_NOT_TARGET',
  targetViaExec: 'STELLA_TARGET_VIA_EXEC',
  serviceMask: 'STELLA_SERVICE_MASK',
  syscallCookieShift: 'STELLA_SYSCALL_COOKIE_SHIFT',
  argCookies: 'STELLA_ARG_COOKIES',
  argUnread: 'STELLA_ARG_UNREAD',
  argNull: 'STELLA_ARG_NULL',
};

/** What a probe reads at the call: argument `argument` (1–6), or the __u32 at `field` bytes into what it points at. */
export interface ArgumentRead {
  argument: 1 | 2 | 3 | 4 | 5 | 6;
  /** Read the __u32 at this byte offset through the argument (a pointer) instead of the argument. */
  field?: number;
  /**
   * With `field`, when the argument is NULL: the argument whose first 8 bytes hold the pointer to
   * read through instead (`EVP_CipherInit_ex(ctx, NULL, …)` keeps `ctx`'s cipher, its first member).
   */
  whenNullFirstMemberOf?: 1 | 2 | 3 | 4 | 5 | 6;
}

/** The `stella_arg_reads` word of one read (argument.bpf.h's encoding). */
export function encodeArgumentRead(read: ArgumentRead): number {
  const deref = read.field === undefined ? 0 : 0x10 | ((read.field & 0xffff) << 16);
  const fallback = read.field === undefined ? 0 : (read.whenNullFirstMemberOf ?? 0) << 5;
  return (read.argument | deref | fallback) >>> 0;
}

/** Cookie of a syscall aggregate (`stella_syscall_agg_cookie` in syscall.bpf.h), split. */
export function splitSyscallCookie(cookie: bigint): { service: number; syscallId: number } {
  return {
    service: Number(cookie >> BigInt(StellaAbi.syscallCookieShift)),
    syscallId: Number(cookie & 0xffffffffn),
  };
}
