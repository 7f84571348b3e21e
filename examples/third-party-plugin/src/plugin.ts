// SPDX-License-Identifier: Apache-2.0
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { type CatalogueEntry, defineProbePlugin, type ProbePlugin, startUprobeCallSession } from '@stella/sdk';

/** The category this plugin adds: function ids are `app/<symbol>`. */
export const APP_CATEGORY = 'app';

/** Built by `npm run build:bpf` (here, or the Stella repo's `npm run build:bpf`) beside its source. */
const OBJECT_PATH = fileURLToPath(new URL('../bpf/app_calls.bpf.o', import.meta.url));

/**
 * What `stella function-map generate` learns from this plugin: an SBOM component whose purl name
 * is `stella-example-app` carries `app_handle_request` in its executable `app`.
 */
export const catalogue: CatalogueEntry[] = [
  {
    name: 'Stella example application',
    match: { purlType: 'generic', name: 'stella-example-app' },
    libraries: [
      {
        library: 'app',
        functions: [
          {
            symbol: 'app_handle_request',
            category: APP_CATEGORY,
            priority: 'general',
            description: 'one request handled by the example application',
          },
        ],
      },
    ],
  },
];

export interface AppProbesOptions {
  /** Ring buffer bytes (a power of two). Default 1 MiB: one small process, a few calls a request. */
  ringBufferBytes: number;
  /** Milliseconds between rescans of target processes' mapped files. Default 5000. */
  rescanIntervalMs: number;
}

/**
 * Uprobes on the example application's request handler. List it in `stella.config.ts`:
 *
 * ```ts
 * import { appProbes } from 'stella-probe-example';
 * export default defineConfig({ plugins: [cryptoProbes(), appProbes()], ... });
 * ```
 *
 * or in YAML: `plugins: [{module: stella-probe-example, options: {ringBufferBytes: 2097152}}]`.
 */
export function appProbes(options: Partial<AppProbesOptions> = {}): ProbePlugin<AppProbesOptions> {
  const resolved: AppProbesOptions = { ringBufferBytes: 1024 * 1024, rescanIntervalMs: 5000, ...options };
  return defineProbePlugin<AppProbesOptions>(
    {
      name: 'stella-probe-example',
      version: '0.1.0',
      categories: [APP_CATEGORY],
      catalogue,
      bpfObjects: [OBJECT_PATH],
      // No side effects here: `stella plugins list` and `stella doctor` call it too.
      async detect({ bpf }) {
        if (!bpf.features().uprobes) return { available: false, reason: 'the kernel has no uprobe support' };
        if (!existsSync(OBJECT_PATH)) {
          return { available: false, reason: `BPF object ${OBJECT_PATH} is missing: run npm run build:bpf` };
        }
        return { available: true, mechanisms: { [APP_CATEGORY]: 'uprobe' } };
      },
      // The SDK session does discovery, attach, statuses, sampling, aggregation and decoding.
      start: (ctx, requests) =>
        startUprobeCallSession(ctx, requests, {
          plugin: 'stella-probe-example',
          objectPath: OBJECT_PATH,
          ringBufferBytes: resolved.ringBufferBytes,
          rescanIntervalMs: resolved.rescanIntervalMs,
        }),
    },
    resolved,
  );
}
