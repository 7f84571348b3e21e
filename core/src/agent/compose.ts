// SPDX-License-Identifier: Apache-2.0
import 'reflect-metadata';
import { createBpf } from '@stella/bpf';
import {
  type BpfApi,
  isProbePlugin,
  isStorePlugin,
  type Logger,
  type ObservationStore,
  type ProbePlugin,
} from '@stella/sdk';
import { type DependencyContainer, container as rootContainer } from 'tsyringe';
import { type LoadedConfig, loadConfig } from '../config/load.js';
import { storeSettingsOf } from '../config/resolve.js';
import { assertStoreTypeServed } from '../config/stores.js';
import type { ResolvedConfig } from '../config/types.js';
import { UnavailableError } from '../errors.js';
import { NdjsonExporter } from '../export/ndjson.js';
import { readFunctionMap } from '../function-map/parse.js';
import type { FunctionMap } from '../function-map/types.js';
import { createLogger } from '../logger.js';
import { loadPlugins } from '../plugins/load.js';
import { createTelemetry, type Telemetry } from '../telemetry/index.js';
import { RuntimeAgent } from './agent.js';
import { DeferredStore } from './deferred-store.js';

/** Injection tokens of the one composition root. Plugins never see the container. */
export const TOKENS = {
  Config: Symbol('stella.Config'),
  Logger: Symbol('stella.Logger'),
  Bpf: Symbol('stella.Bpf'),
  Telemetry: Symbol('stella.Telemetry'),
  Store: Symbol('stella.Store'),
  Exporter: Symbol('stella.Exporter'),
  ProbePlugins: Symbol('stella.ProbePlugins'),
  FunctionMaps: Symbol('stella.FunctionMaps'),
  Agent: Symbol('stella.Agent'),
} as const;

export interface ComposeOptions {
  configPath?: string;
  cwd?: string;
  env?: Readonly<Record<string, string | undefined>>;
  /** Replace parts for tests/benchmarks (e.g. a logger writing to a buffer). */
  overrides?: { logger?: Logger; bpf?: BpfApi };
}

export interface ComposedAgent {
  container: DependencyContainer;
  agent: RuntimeAgent;
  config: ResolvedConfig;
  loaded: LoadedConfig;
  telemetry: Telemetry;
  logger: Logger;
  /** Stops the agent and releases telemetry; idempotent. */
  dispose(): Promise<void>;
}

/**
 * Builds the agent: config → logger → plugins → store, maps, BPF, telemetry, exporter → agent.
 * Everything asynchronous is settled here, then registered as values in a child container, so
 * the graph is explicit and a test can swap any one part.
 */
export async function composeAgent(options: ComposeOptions = {}): Promise<ComposedAgent> {
  const loaded = await loadConfig({ configPath: options.configPath, cwd: options.cwd, env: options.env });
  const { config } = loaded;
  const agentConfig = config.runtimeAgent;
  const logger =
    options.overrides?.logger ?? createLogger({ level: agentConfig.log.level, format: agentConfig.log.format });
  logger.info('configuration loaded', { source: loaded.source });

  const plugins = await loadPlugins(config, logger);
  const probePlugins = plugins.filter(isProbePlugin) as ProbePlugin<unknown>[];

  const maps: FunctionMap[] = [];
  for (const path of agentConfig.functionMaps) maps.push(await readFunctionMap(path));
  if (maps.length === 0)
    logger.warn('no function maps configured (runtime_agent.function_maps): nothing to probe or verify');

  assertStoreTypeServed(config, plugins, loaded.source);
  const storePlugin = plugins.filter(isStorePlugin).find((p) => p.type === agentConfig.observationStore.type)!;
  const storeLogger = logger.child({ scope: `store:${storePlugin.type}` });
  const store: ObservationStore = await DeferredStore.open(
    storePlugin.type,
    () => storePlugin.create(storeSettingsOf(config), { logger: storeLogger }),
    storeLogger,
  );
  const telemetry = await createTelemetry({
    nodeName: agentConfig.nodeName,
    prometheus: agentConfig.telemetry.prometheus,
    // OTLP only when an endpoint is configured: the embedded default has no collector to talk to.
    otlp: agentConfig.telemetry.otlp.endpoint ? agentConfig.telemetry.otlp : undefined,
    logger: logger.child({ scope: 'telemetry' }),
  }).catch(async (error: unknown) => {
    await store.close().catch(() => {});
    // A taken port is the node's state, not a bug: say which setting to change.
    throw new UnavailableError(
      `${(error as Error).message} (runtime_agent.telemetry.prometheus.host/port in ${loaded.source})`,
      { cause: error },
    );
  });
  const exporter = new NdjsonExporter({
    outputPath: agentConfig.export.outputPath,
    flushIntervalMs: agentConfig.export.flushIntervalMs,
    rotateBytes: agentConfig.export.rotateBytes,
    rotateIntervalMs: agentConfig.export.rotateIntervalMs,
    compressRotated: agentConfig.export.compressRotated,
    retentionHours: agentConfig.export.retentionHours,
    nodeName: agentConfig.nodeName,
    logger: logger.child({ scope: 'export' }),
    onDrop: (count) => telemetry.countDropped('export_error', count),
  });
  const bpf = options.overrides?.bpf ?? createBpf();

  const container = rootContainer.createChildContainer();
  container.register(TOKENS.Config, { useValue: config });
  container.register(TOKENS.Logger, { useValue: logger });
  container.register(TOKENS.Bpf, { useValue: bpf });
  container.register(TOKENS.Telemetry, { useValue: telemetry });
  container.register(TOKENS.Store, { useValue: store });
  container.register(TOKENS.Exporter, { useValue: exporter });
  container.register(TOKENS.ProbePlugins, { useValue: probePlugins });
  container.register(TOKENS.FunctionMaps, { useValue: maps });
  container.register(TOKENS.Agent, {
    useFactory: (c) =>
      new RuntimeAgent({
        config: c.resolve(TOKENS.Config),
        logger: c.resolve(TOKENS.Logger),
        bpf: c.resolve(TOKENS.Bpf),
        telemetry: c.resolve(TOKENS.Telemetry),
        store: c.resolve(TOKENS.Store),
        exporter: c.resolve(TOKENS.Exporter),
        plugins: c.resolve(TOKENS.ProbePlugins),
        maps: c.resolve(TOKENS.FunctionMaps),
      }),
  });
  const agent = container.resolve<RuntimeAgent>(TOKENS.Agent);
  let disposed: Promise<void> | undefined;
  return {
    container,
    agent,
    config,
    loaded,
    telemetry,
    logger,
    dispose() {
      disposed ??= (async () => {
        await agent.stop();
        await telemetry.shutdown();
      })();
      return disposed;
    },
  };
}
