// SPDX-License-Identifier: Apache-2.0
import { existsSync } from 'node:fs';
import { algorithmSourcesOf } from './algorithms.js';
import { defineProbePlugin } from './define.js';
import { countOnlyIndexes, probeModesOf } from './probe-mode.js';
import type { CatalogueEntry, Category } from './types/catalogue.js';
import type { ProbePlugin } from './types/probe-plugin.js';
import { startUprobeCallSession, type UprobeCallSessionOptions } from './uprobe-session.js';

/**
 * The one sentence every place that refuses uprobes on a pre-5.15 kernel says (doctor's check, each
 * uprobe plugin's detection, the agent's failed entries; docs/KERNELS.md quotes it).
 */
export const ATTACH_COOKIES_MISSING =
  'the kernel has no bpf_get_attach_cookie (Linux 5.15+), which the uprobe plugins (crypto, tls, auth) need to tell their attach points apart';

export interface UprobePluginOptions {
  /** Ring buffer bytes (power of two). Default 4 MiB: < 3 % drops under contention (docs/KERNEL.md §6). */
  ringBufferBytes: number;
  /** See `UprobeCallSessionOptions.attachScope`. Default `auto`. */
  attachScope: NonNullable<UprobeCallSessionOptions['attachScope']>;
  /** Milliseconds between periodic rescans of target processes' libraries. Default 5000. */
  rescanIntervalMs: number;
}

export interface UprobePluginDefinition {
  name: string;
  version?: string;
  categories: Category[];
  catalogue: CatalogueEntry[];
  /** Absolute path of the compiled object that includes `stella/uprobe_call.bpf.h`. */
  objectPath: string;
}

/**
 * A complete "a library function was called" plugin: detection (uprobes in the kernel, the object
 * built) and the generic uprobe session. The crypto/TLS and auth plugins are this plus their
 * catalogue; a third-party plugin for another library can be too.
 */
export function defineUprobePlugin(
  definition: UprobePluginDefinition,
  options: Partial<UprobePluginOptions> = {},
): ProbePlugin<UprobePluginOptions> {
  const resolved: UprobePluginOptions = {
    ringBufferBytes: 4 * 1024 * 1024,
    attachScope: 'auto',
    rescanIntervalMs: 5000,
    ...options,
  };
  const { objectPath } = definition;
  return defineProbePlugin<UprobePluginOptions>(
    {
      name: definition.name,
      ...(definition.version ? { version: definition.version } : {}),
      categories: definition.categories,
      catalogue: definition.catalogue,
      bpfObjects: [objectPath],
      async detect({ bpf }) {
        if (!bpf.features().uprobes) {
          return {
            available: false,
            reason: 'the kernel has no uprobe support (/sys/bus/event_source/devices/uprobe missing)',
          };
        }
        if (bpf.features().attachCookies === false) {
          return {
            available: false,
            reason: ATTACH_COOKIES_MISSING,
          };
        }
        if (!existsSync(objectPath)) {
          return { available: false, reason: `BPF object ${objectPath} is missing: run npm run build:bpf` };
        }
        return { available: true, mechanisms: Object.fromEntries(definition.categories.map((c) => [c, 'uprobe'])) };
      },
      start(ctx, requests) {
        const countModes = probeModesOf(requests, definition.catalogue, ctx.tuning);
        return startUprobeCallSession(ctx, requests, {
          plugin: definition.name,
          objectPath,
          ringBufferBytes: resolved.ringBufferBytes,
          attachScope: resolved.attachScope,
          rescanIntervalMs: resolved.rescanIntervalMs,
          countModes,
          countOnly: countOnlyIndexes(requests, definition.catalogue, countModes, ctx.tuning.aggregationWindowMs),
          algorithms: algorithmSourcesOf(requests, definition.catalogue),
        });
      },
    },
    resolved,
  );
}
