// SPDX-License-Identifier: Apache-2.0
/**
 * Opening a uprobe object with presence mode switched on for some of its probes: the per-cookie
 * flags set before load and the uprobe.multi program loaded only when needed. Where presence
 * cannot run (an object built before presence.bpf.h, a kernel without uprobe_multi), those probes
 * count every call instead and the log says why: slower, never blind.
 */
import { PRESENCE_COOKIES, PresenceNames, StellaPrograms } from './abi.js';
import { openProbeObject, type ProbeObject, type ProbeObjectOptions } from './session-core.js';
import type { Logger } from './types/logger.js';
import type { PluginContext } from './types/probe-plugin.js';
import type { ProbeCountMode } from './types/tuning.js';

/** The request indexes in presence mode that the kernel can flag (below `PRESENCE_COOKIES`). */
export function presenceIndexes(modes: readonly ProbeCountMode[] | undefined): Set<number> {
  const indexes = new Set<number>();
  modes?.forEach((mode, index) => {
    if (mode === 'presence' && index < PRESENCE_COOKIES) indexes.add(index);
  });
  return indexes;
}

export interface PresenceObject {
  object: ProbeObject;
  /** The requests actually in presence mode: empty when the object or the kernel cannot do it. */
  presence: Set<number>;
}

export function openPresenceObject(
  ctx: PluginContext,
  options: ProbeObjectOptions,
  wanted: Set<number>,
  log: Logger,
): PresenceObject {
  const program = StellaPrograms.uprobePresence;
  if (wanted.size === 0) {
    return { object: openProbeObject(ctx, { ...options, autoload: (p) => p !== program }), presence: wanted };
  }
  let supported = true;
  try {
    const object = openProbeObject(ctx, {
      ...options,
      configure(handle) {
        // The caller's own tuning first (the call program's uprobe.multi attach type among it):
        // replacing it would load that program as a perf-event uprobe its multi links cannot use.
        options.configure?.(handle);
        if (!handle.programNames().includes(program)) {
          supported = false;
          return;
        }
        const flags = new Uint8Array(PRESENCE_COOKIES);
        for (const index of wanted) flags[index] = 1;
        handle.setGlobal(PresenceNames.cookies, flags);
      },
      autoload: (p) => p !== program || supported,
    });
    if (!supported) {
      log.warn(
        `presence mode unavailable: ${options.objectPath} has no ${program} program (rebuild it against this SDK); counting every call`,
      );
      return { object, presence: new Set() };
    }
    return { object, presence: wanted };
  } catch (error) {
    log.warn(
      'presence mode unavailable: the kernel refused the uprobe.multi program (Linux ≥ 6.6 needed); counting every call',
      {
        error: (error as Error).message,
      },
    );
    return { object: openProbeObject(ctx, { ...options, autoload: (p) => p !== program }), presence: new Set() };
  }
}
