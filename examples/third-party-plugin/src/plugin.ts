// SPDX-License-Identifier: Apache-2.0
import { fileURLToPath } from 'node:url';
import { type CatalogueEntry, defineUprobePlugin, type ProbePlugin, type UprobePluginOptions } from '@stella/sdk';

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

/**
 * `ringBufferBytes` (default here 1 MiB: one small process, a few calls a request),
 * `rescanIntervalMs` (default 5000) and `attachScope` (default `auto`), as `defineUprobePlugin` takes them.
 */
export type AppProbesOptions = UprobePluginOptions;

/**
 * Uprobes on the example application's request handler. List it in `stella.config.ts`:
 *
 * ```ts
 * import { appProbes } from 'stella-probe-example';
 * export default defineConfig({ plugins: [cryptoProbes(), appProbes()], ... });
 * ```
 *
 * or in YAML: `plugins: [{module: stella-probe-example, options: {ringBufferBytes: 2097152}}]`.
 *
 * `defineUprobePlugin` is the whole plugin: `detect` (uprobes and attach cookies in the kernel, the
 * object built; no side effects, since `stella plugins list` and `stella doctor` call it too) and the
 * SDK's uprobe session (discovery, attach, statuses, count modes, sampling, aggregation, decoding).
 */
export function appProbes(options: Partial<AppProbesOptions> = {}): ProbePlugin<AppProbesOptions> {
  return defineUprobePlugin(
    { name: 'stella-probe-example', version: '0.1.0', categories: [APP_CATEGORY], catalogue, objectPath: OBJECT_PATH },
    { ringBufferBytes: 1024 * 1024, ...options },
  );
}
