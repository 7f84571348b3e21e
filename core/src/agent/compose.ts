// SPDX-License-Identifier: Apache-2.0
import 'reflect-metadata';
import { createBpf } from '@stella/bpf';
import {
  type BpfApi,
  isProbePlugin,
  isStorePlugin,
  type Logger,
  type ObservationStore,
  type StorePlugin,
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
import { type Clock, systemClock, TOKENS } from './tokens.js';

export { TOKENS } from './tokens.js';

export interface ComposeOptions {
  configPath?: string;
  cwd?: string;
  env?: Readonly<Record<string, string | undefined>>;
  /**
   * Where replacements are registered (by token, see tokens.ts): the agent's container is a child
   * of it, and every part registered here is used instead of the built-in one. Default: the root.
   */
  container?: DependencyContainer;
  /** Shorthand for registering these two in `container` (the CLI's `plugins list` logger, tests). */
  overrides?: { logger?: Logger; bpf?: BpfApi };
}

export interface ComposedAgent {
  container: DependencyContainer;
  agent: RuntimeAgent;
  config: ResolvedConfig;
  loaded: LoadedConfig;
  telemetry: Telemetry;
  logger: Logger;
  bpf: BpfApi;
  /** Stops the agent and releases telemetry; idempotent. */
  dispose(): Promise<void>;
}

/**
 * Builds the agent: config → logger → plugins → store, maps, BPF, telemetry, exporter → agent.
 * Each part is registered under its token in a child container unless the caller's container
 * already has one; the asynchronous ones (opening the store, listening for scrapes) are settled
 * here first, then the agent is resolved with every part injected by token.
 */
export async function composeAgent(options: ComposeOptions = {}): Promise<ComposedAgent> {
  const container = (options.container ?? rootContainer).createChildContainer();
  if (options.overrides?.logger) container.register(TOKENS.Logger, { useValue: options.overrides.logger });
  if (options.overrides?.bpf) container.register(TOKENS.Bpf, { useValue: options.overrides.bpf });
  /** The caller's part when it registered one, else `make()`'s, registered as a value. */
  const provide = async <T>(token: symbol, make: () => T | Promise<T>): Promise<T> => {
    if (!container.isRegistered(token, true)) container.register(token, { useValue: await make() });
    return container.resolve<T>(token);
  };

  const loaded = await loadConfig({ configPath: options.configPath, cwd: options.cwd, env: options.env });
  const config = await provide<ResolvedConfig>(TOKENS.Config, () => loaded.config);
  const agentConfig = config.runtimeAgent;
  const logger = await provide<Logger>(TOKENS.Logger, () =>
    createLogger({ level: agentConfig.log.level, format: agentConfig.log.format }),
  );
  logger.info('configuration loaded', { source: loaded.source });
  const clock = await provide<Clock>(TOKENS.Clock, () => systemClock);

  // Each plugin is a provider under its kind's token, after any the caller registered (copied
  // down: a child's own registrations of a token hide its parent's from resolveAll).
  for (const token of [TOKENS.ProbePlugin, TOKENS.StorePlugin]) {
    if (!container.isRegistered(token, true)) continue;
    for (const plugin of container.resolveAll(token)) container.register(token, { useValue: plugin });
  }
  for (const plugin of await loadPlugins(config, logger)) {
    if (isProbePlugin(plugin)) container.register(TOKENS.ProbePlugin, { useValue: plugin });
    if (isStorePlugin(plugin)) container.register(TOKENS.StorePlugin, { useValue: plugin });
  }
  const storePlugins = container.isRegistered(TOKENS.StorePlugin, true)
    ? container.resolveAll<StorePlugin>(TOKENS.StorePlugin)
    : [];

  await provide<FunctionMap[]>(TOKENS.FunctionMaps, async () => {
    const maps: FunctionMap[] = [];
    for (const path of agentConfig.functionMaps) maps.push(await readFunctionMap(path));
    if (maps.length === 0)
      logger.warn('no function maps configured (runtime_agent.function_maps): nothing to probe or verify');
    return maps;
  });

  const store = await provide<ObservationStore>(TOKENS.Store, () => {
    assertStoreTypeServed(config, storePlugins, loaded.source);
    const storePlugin = storePlugins.find((p) => p.type === agentConfig.observationStore.type)!;
    const storeLogger = logger.child({ scope: `store:${storePlugin.type}` });
    return DeferredStore.open(
      storePlugin.type,
      () => storePlugin.create(storeSettingsOf(config), { logger: storeLogger }),
      storeLogger,
    );
  });
  const telemetry = await provide<Telemetry>(TOKENS.Telemetry, () =>
    createTelemetry({
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
    }),
  );
  await provide(
    TOKENS.Exporter,
    () =>
      new NdjsonExporter({
        outputPath: agentConfig.export.outputPath,
        flushIntervalMs: agentConfig.export.flushIntervalMs,
        rotateBytes: agentConfig.export.rotateBytes,
        rotateIntervalMs: agentConfig.export.rotateIntervalMs,
        compressRotated: agentConfig.export.compressRotated,
        retentionHours: agentConfig.export.retentionHours,
        nodeName: agentConfig.nodeName,
        logger: logger.child({ scope: 'export' }),
        onDrop: (count) => telemetry.countDropped('export_error', count),
        now: () => clock.now(),
      }),
  );
  const bpf = await provide<BpfApi>(TOKENS.Bpf, () => createBpf());

  const agent = container.resolve(RuntimeAgent);
  let disposed: Promise<void> | undefined;
  return {
    container,
    agent,
    config,
    loaded,
    telemetry,
    logger,
    bpf,
    dispose() {
      disposed ??= (async () => {
        await agent.stop();
        await telemetry.shutdown();
      })();
      return disposed;
    },
  };
}
