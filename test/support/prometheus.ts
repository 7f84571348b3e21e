// SPDX-License-Identifier: Apache-2.0
/**
 * Test helpers around Prometheus: parsing the text exposition format of a real scrape, and
 * (below) starting a real Prometheus server from the machine's /usr/bin/prometheus.
 */

import { spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { freePort } from '../../core/src/demo/tls-server.js';

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface Exposition {
  samples: Sample[];
  /** `# TYPE` per metric family name. */
  types: Map<string, string>;
}

/** Parses Prometheus text format 0.0.4 (what the OTel exporter serves). */
export function parseExposition(text: string): Exposition {
  const samples: Sample[] = [];
  const types = new Map<string, string>();
  for (const line of text.split('\n')) {
    if (line.startsWith('# TYPE ')) {
      const [, , name = '', type = ''] = line.split(' ');
      types.set(name, type);
      continue;
    }
    if (line.startsWith('#') || line.trim() === '') continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)/.exec(line);
    if (!match) throw new Error(`unparsable exposition line: ${line}`);
    const [, name = '', , body, raw = ''] = match;
    const labels: Record<string, string> = {};
    if (body) {
      for (const [, key = '', value = ''] of body.matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) {
        labels[key] = value.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
      }
    }
    samples.push({
      name,
      labels,
      value: raw === '+Inf' ? Infinity : raw === '-Inf' ? -Infinity : Number(raw),
    });
  }
  return { samples, types };
}

export async function scrape(url: string): Promise<Exposition> {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`GET ${url}: HTTP ${response.status}`);
  return parseExposition(await response.text());
}

/** Samples of `name` whose labels include every given label. */
export function find(exposition: Exposition, name: string, labels: Record<string, string> = {}): Sample[] {
  return exposition.samples.filter(
    (s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v),
  );
}

// ---------------------------------------------------------------------------------------------
// A real Prometheus server (the machine's /usr/bin/prometheus) on a free loopback port.
// ---------------------------------------------------------------------------------------------

export const PROMETHEUS_BIN = process.env.STELLA_PROMETHEUS_BIN ?? '/usr/bin/prometheus';
export const PROMTOOL_BIN = process.env.STELLA_PROMTOOL_BIN ?? '/usr/bin/promtool';

export interface PrometheusServerOptions {
  /** Scrape targets as `http://host:port/path` URLs (one job each, `stella-agent-N`, or `job`). */
  targets: string[];
  /** Job name for the targets; default `stella-agent`. */
  job?: string;
  /** Rule files to load (absolute paths; copied into the server's directory). */
  ruleFiles?: string[];
  /** Scrape and rule evaluation interval, seconds. Default 1. */
  intervalSeconds?: number;
}

export interface PromAlert {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  state: 'pending' | 'firing' | 'inactive';
  value: string;
}

export interface PrometheusServer {
  /** `http://127.0.0.1:PORT` */
  readonly url: string;
  readonly dir: string;
  /** Instant query; returns the result vector (throws on a PromQL error with Prometheus' message). */
  query(expr: string): Promise<Array<{ metric: Record<string, string>; value: [number, string] }>>;
  /** `/api/v1/alerts` (pending and firing alerts). */
  alerts(): Promise<PromAlert[]>;
  /** `/api/v1/targets` active targets' health. */
  targets(): Promise<Array<{ scrapeUrl: string; health: string; lastError: string }>>;
  /** Polls `probe` until it returns non-undefined; the error names `what` and the server log tail. */
  waitFor<T>(probe: () => Promise<T | undefined>, timeoutMs: number, what: string): Promise<T>;
  stop(): Promise<void>;
}

export async function startPrometheus(options: PrometheusServerOptions): Promise<PrometheusServer> {
  if (!existsSync(PROMETHEUS_BIN)) {
    throw new Error(`${PROMETHEUS_BIN} not found: install Debian's prometheus package (or set STELLA_PROMETHEUS_BIN)`);
  }
  const dir = mkdtempSync(join(tmpdir(), 'stella-prometheus-'));
  const interval = `${options.intervalSeconds ?? 1}s`;
  const ruleFiles = (options.ruleFiles ?? []).map((file, i) => {
    const copy = join(dir, `${i}-${basename(file)}`);
    copyFileSync(file, copy);
    return copy;
  });
  const staticConfigs = options.targets.map((target) => {
    const u = new URL(target);
    return { targets: [u.host], metricsPath: u.pathname || '/metrics', scheme: u.protocol.replace(':', '') };
  });
  // JSON is valid YAML: no YAML library needed for the config.
  const config = {
    global: { scrape_interval: interval, evaluation_interval: interval, scrape_timeout: interval },
    rule_files: ruleFiles,
    scrape_configs: staticConfigs.map((c, i) => ({
      job_name: staticConfigs.length === 1 ? (options.job ?? 'stella-agent') : `${options.job ?? 'stella-agent'}-${i}`,
      metrics_path: c.metricsPath,
      scheme: c.scheme,
      static_configs: [{ targets: c.targets }],
    })),
  };
  writeFileSync(join(dir, 'prometheus.yml'), JSON.stringify(config, null, 2));

  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const child = spawn(
    PROMETHEUS_BIN,
    [
      `--config.file=${join(dir, 'prometheus.yml')}`,
      `--storage.tsdb.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--web.enable-lifecycle',
      '--log.level=warn',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let log = '';
  const keep = (chunk: Buffer) => {
    log = (log + chunk.toString()).slice(-8000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  let exited: number | null | undefined;
  const exitedPromise = new Promise<void>((resolve) => {
    child.once('exit', (code) => {
      exited = code;
      resolve();
    });
  });

  const api = async <T>(path: string): Promise<T> => {
    const response = await fetch(`${url}${path}`);
    const body = (await response.json()) as { status: string; data: T; error?: string };
    if (body.status !== 'success') throw new Error(`Prometheus ${path}: ${body.error ?? response.status}`);
    return body.data;
  };

  const server: PrometheusServer = {
    url,
    dir,
    query: async (expr) => (await api<{ result: [] }>(`/api/v1/query?query=${encodeURIComponent(expr)}`)).result,
    alerts: async () => (await api<{ alerts: PromAlert[] }>('/api/v1/alerts')).alerts,
    targets: async () => (await api<{ activeTargets: [] }>('/api/v1/targets')).activeTargets,
    async waitFor<T>(probe: () => Promise<T | undefined>, timeoutMs: number, what: string): Promise<T> {
      const deadline = Date.now() + timeoutMs;
      let lastError: unknown;
      for (;;) {
        if (exited !== undefined) throw new Error(`prometheus exited (${exited}) while waiting for ${what}:\n${log}`);
        try {
          const result = await probe();
          if (result !== undefined) return result;
        } catch (error) {
          lastError = error;
        }
        if (Date.now() > deadline) {
          throw new Error(
            `timed out after ${timeoutMs} ms waiting for ${what}${lastError ? ` (last error: ${(lastError as Error).message})` : ''}\nprometheus log:\n${log}`,
          );
        }
        await new Promise((r) => setTimeout(r, 250));
      }
    },
    async stop() {
      if (exited === undefined) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
        await exitedPromise;
        clearTimeout(timer);
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };

  try {
    await server.waitFor(
      async () => ((await fetch(`${url}/-/ready`)).ok ? true : undefined),
      30_000,
      'Prometheus to become ready',
    );
  } catch (error) {
    await server.stop();
    throw error;
  }
  return server;
}
