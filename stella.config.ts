// SPDX-License-Identifier: Apache-2.0
/**
 * The default and demo configuration of the Stella runtime agent, with every plugin imported
 * explicitly. `stella agent` run from this directory (or `--config stella.config.ts`) loads it;
 * a YAML file with the same keys works the same way (see README "Configuration").
 */
import { defineConfig } from '@stella/core';
import { authProbes } from '@stella/probes-auth';
import { cryptoProbes } from '@stella/probes-crypto';
import { fileProbes } from '@stella/probes-file';
import { netProbes } from '@stella/probes-net';
import { memoryStore, postgresStore, valkeyStore } from '@stella/stores';

export default defineConfig({
  runtime_agent: {
    // The shipped demo map: curl's TLS handshake through libssl and a libcrypto digest.
    function_maps: ['./core/demo/function-map.json'],
    targets: [{ service: 'demo-tls', executables: ['/usr/bin/curl'] }],
    observation_store: { type: 'memory', retention_hours: 72, max_batch_size: 1000 },
    probes: { max_concurrent: 256, attach_timeout_ms: 5000, default_types: ['uprobe', 'kprobe'], sampling_rate: 1.0 },
    export: {
      format: 'ndjson',
      flush_interval_ms: 5000,
      output_path: '/var/stella/observations/',
      aggregation_window_ms: 0,
    },
    buffer: { max_bytes: '64MiB' },
    telemetry: { prometheus: { enabled: true, host: '127.0.0.1', port: 9464 } },
  },
  // Probe plugins also supply the catalogues `stella function-map generate` uses.
  plugins: [cryptoProbes(), authProbes(), netProbes(), fileProbes(), memoryStore(), postgresStore(), valkeyStore()],
});
