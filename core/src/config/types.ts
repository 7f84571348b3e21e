// SPDX-License-Identifier: Apache-2.0
/**
 * The two shapes of the agent configuration: `UserConfig` is what people write (snake_case, the
 * keys of docs/OPERATIONS.md and README.md, every field optional) in YAML, JSON, `.stellarc*`, package.json#stella or
 * `stella.config.ts`; `ResolvedConfig` is what the code uses (camelCase, every default applied).
 */
import type { ProbeCountMode, ProbeType, StellaPlugin, TargetSpec } from '@stella/sdk';
import type { PostgresConnectionSettings, ValkeyConnectionSettings } from '@stella/stores';

/** A byte size: a number of bytes, or a string such as `"64MiB"`, `"64MB"`, `"512K"` (1 KB = 1024 B). */
export type ByteSize = number | string;

/**
 * An entry of `plugins`: in `stella.config.ts` a plugin object (`cryptoProbes()`); in YAML/JSON a
 * module specifier, or `{module, options}` whose default export is a plugin or a factory called
 * with `options`. Relative specifiers resolve against the config file's directory.
 */
export type PluginSpec = StellaPlugin | string | PluginModuleSpec;

export interface PluginModuleSpec {
  module: string;
  options?: Record<string, unknown>;
}

export interface UserTargetSpec {
  service: string;
  executables?: string[];
  cgroups?: string[];
  container_ids?: string[];
  pids?: number[];
  all_processes?: boolean;
}

/** The user's `observation_store.postgres`: the store's own connection settings, as written. */
export type UserPostgresSettings = PostgresConnectionSettings;

/** The user's `observation_store.valkey`: the store's connection settings, `key_prefix` in snake_case. */
export type UserValkeySettings = Omit<ValkeyConnectionSettings, 'keyPrefix' | 'clusterNodes' | 'waitReplicas'> & {
  /** Default `stella:`. */
  key_prefix?: string;
  /** Seed nodes of a Valkey Cluster, `host:port` each. */
  cluster_nodes?: string[];
  /** Default 1 with `cluster_nodes`, else 0. */
  wait_replicas?: number;
};

/** `runtime_agent.learning[]`: a service whose map the agent refines from a learning window. */
export interface UserLearningSpec {
  service: string;
  /** A duration from the agent's start: `24h`, `30m`. */
  window: string;
  /** The refined map's path (relative to the config file). */
  output: string;
  /** Default false: required paths never observed become optional. */
  drop_unobserved?: boolean;
  /** Default false (listed in the log for review); true, or function id globs. */
  accept_unexpected?: boolean | string[];
}

export interface ResolvedLearningSpec {
  service: string;
  windowMs: number;
  /** Absolute. */
  output: string;
  dropUnobserved: boolean;
  acceptUnexpected: boolean | string[];
}

export interface UserRuntimeAgentConfig {
  /** Default `$NODE_NAME`, else `os.hostname()`. */
  node_name?: string;
  /** Function map files the agent probes and verifies (relative to the config file). */
  function_maps?: string[];
  targets?: UserTargetSpec[];
  learning?: UserLearningSpec[];
  observation_store?: {
    /** `memory` (default), `postgres`, `valkey`, or any type a loaded store plugin serves. */
    type?: string;
    /** Default 72. */
    retention_hours?: number;
    /** Default 1000. */
    max_batch_size?: number;
    postgres?: UserPostgresSettings;
    valkey?: UserValkeySettings;
  };
  probes?: {
    /** Default 256 (docs/OPERATIONS.md "Limits and tuning"). */
    max_concurrent?: number;
    /** Default 5000. */
    attach_timeout_ms?: number;
    /** Default `[uprobe, kprobe]`. */
    default_types?: ProbeType[];
    /** 0 < rate ≤ 1, default 1.0. */
    sampling_rate?: number;
    /** Path prefixes the file probes report (filtered in the kernel). */
    sensitive_paths?: string[];
    /** Every function's mode; absent: presence for catalogue functions marked hot (unless they carry an algorithm), count otherwise. */
    mode?: ProbeCountMode;
    /** Per category (`crypto`) or function id (`crypto/EVP_DigestUpdate`); the most specific key wins. */
    modes?: Record<string, ProbeCountMode>;
  };
  export?: {
    /** Only `ndjson`. */
    format?: 'ndjson';
    /** Default 5000. */
    flush_interval_ms?: number;
    /** Absolute directory, default `/var/stella/observations/`. */
    output_path?: string;
    /** 0 (default) = one record per call. */
    aggregation_window_ms?: number;
    /** Default 64 MiB. */
    rotate_bytes?: ByteSize;
    /** Default 3600000 (1 h). */
    rotate_interval_ms?: number;
    /** Default true (gzip). */
    compress_rotated?: boolean;
    /** Default 72. */
    retention_hours?: number;
  };
  buffer?: {
    /** Observation buffer, default 64 MiB. */
    max_bytes?: ByteSize;
  };
  telemetry?: {
    prometheus?: { enabled?: boolean; host?: string; port?: number };
    otlp?: {
      endpoint?: string;
      metrics?: boolean;
      traces?: boolean;
      span_sampling_ratio?: number;
      headers?: Record<string, string>;
      export_interval_ms?: number;
    };
    /** How often the verifier recomputes the gauges; default 15000. */
    verify_interval_ms?: number;
  };
  log?: { level?: LogLevelName; format?: 'text' | 'json' };
}

export type LogLevelName = 'debug' | 'info' | 'warn' | 'error' | 'silent';

/** What users write. Every key is optional; absent keys take the defaults of `ResolvedConfig`. */
export interface UserConfig {
  runtime_agent?: UserRuntimeAgentConfig;
  /** Absent: the built-in probe and store plugins. */
  plugins?: PluginSpec[];
}

export interface ResolvedPostgresSettings {
  url?: string;
  host?: string;
  port: number;
  user?: string;
  password?: string;
  database?: string;
  schema: string;
  ssl: boolean;
}

export interface ResolvedValkeySettings {
  url?: string;
  host: string;
  port: number;
  password?: string;
  db: number;
  keyPrefix: string;
  clusterNodes?: string[];
  waitReplicas?: number;
}

export interface ResolvedConfig {
  runtimeAgent: {
    nodeName: string;
    /** Absolute paths. */
    functionMaps: string[];
    targets: TargetSpec[];
    learning: ResolvedLearningSpec[];
    observationStore: {
      type: string;
      retentionHours: number;
      maxBatchSize: number;
      postgres: ResolvedPostgresSettings;
      valkey: ResolvedValkeySettings;
    };
    probes: {
      maxConcurrent: number;
      attachTimeoutMs: number;
      defaultTypes: ProbeType[];
      samplingRate: number;
      sensitivePaths: string[];
      /** Absent: by the catalogue's hot flag (see `probeModeOf`). */
      mode?: ProbeCountMode;
      modes: Record<string, ProbeCountMode>;
    };
    export: {
      format: 'ndjson';
      flushIntervalMs: number;
      outputPath: string;
      aggregationWindowMs: number;
      rotateBytes: number;
      rotateIntervalMs: number;
      compressRotated: boolean;
      retentionHours: number;
    };
    buffer: { maxBytes: number };
    telemetry: {
      prometheus: { enabled: boolean; host: string; port: number };
      otlp: {
        /** Absent: no OTLP export. */
        endpoint?: string;
        metrics: boolean;
        traces: boolean;
        spanSamplingRatio: number;
        headers: Record<string, string>;
        exportIntervalMs: number;
      };
      verifyIntervalMs: number;
    };
    log: { level: LogLevelName; format: 'text' | 'json' };
  };
  /**
   * Plugins to load, strings normalised to `{module, options}`; `undefined` = the built-ins.
   * Pass to `resolvePluginSpecs(config.plugins, {baseDir: config.configDir, builtins})`.
   */
  plugins: (StellaPlugin | Required<PluginModuleSpec>)[] | undefined;
  /** Directory relative module specifiers and paths were resolved against. */
  configDir: string;
}
