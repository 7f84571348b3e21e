// SPDX-License-Identifier: Apache-2.0
import type { FunctionSummary, Observation, ObservationQuery, ObservationStore } from '@stella/sdk';
import { isStoreUnavailableError } from '@stella/stores';
import type { Command } from 'commander';
import { loadConfig } from '../../config/load.js';
import { InputError, UnavailableError } from '../../errors.js';
import { openConfiguredStore } from '../../export/open-store.js';
import { createLogger } from '../../logger.js';
import { observationLine } from '../../ndjson/contract.js';
import { parseDurationArg, parseTimeArg } from '../../time.js';

type Format = 'table' | 'json' | 'ndjson';

interface QueryFlags {
  config?: string;
  service?: string;
  function?: string;
  from?: string;
  to?: string;
  summary?: boolean;
  format: string;
  limit?: string;
}

export function register(program: Command): void {
  const group = program.command('observations').description('read and prune the configured observation store');

  group
    .command('query')
    .description('list observations (or per-function counts with --summary) from the configured store')
    .option('--config <file>', 'agent configuration (default: cosmiconfig search for "stella")')
    .option('--service <name>', 'only this service')
    .option('--function <glob>', 'function ids matching this glob (tls/*, crypto/EVP_*)')
    .option('--from <time>', 'window start, inclusive: ISO-8601 or relative (1h, 30m)')
    .option('--to <time>', 'window end, exclusive: ISO-8601 or relative (default now)')
    .option('--summary', 'per function: hit count, records, first and last seen')
    .option('--format <format>', 'table, json or ndjson', 'table')
    .option('--limit <n>', 'at most this many observations')
    .action(async (flags: QueryFlags) => {
      const format = parseFormat(flags.format);
      const now = new Date();
      const q: ObservationQuery = {};
      if (flags.service) q.service = flags.service;
      if (flags.function) q.function = flags.function;
      if (flags.from) q.from = parseTimeArg(flags.from, '--from', now);
      if (flags.to) q.to = parseTimeArg(flags.to, '--to', now);
      if (q.from && q.to && q.from >= q.to) throw new InputError('--from must be earlier than --to');
      if (flags.limit !== undefined) {
        const n = Number(flags.limit);
        if (!Number.isInteger(n) || n < 0) throw new InputError(`--limit "${flags.limit}" is not a whole number`);
        q.limit = n;
      }
      await withStore(flags.config, async (store) => {
        if (flags.summary) await printSummary(await store.summary(q), format);
        else await printObservations(store.query(q), format);
      });
    });

  group
    .command('prune')
    .description('delete observations older than a duration from the configured store')
    .requiredOption('--older-than <duration>', 'e.g. 72h, 7d')
    .option('--config <file>', 'agent configuration (default: cosmiconfig search for "stella")')
    .action(async (flags: { olderThan: string; config?: string }) => {
      const ms = parseDurationArg(flags.olderThan, '--older-than');
      const cutoff = new Date(Date.now() - ms);
      await withStore(flags.config, async (store) => {
        const removed = await store.prune(cutoff);
        process.stdout.write(
          `pruned ${removed} observations older than ${cutoff.toISOString()} from the ${store.name} store\n`,
        );
      });
    });
}

function parseFormat(text: string): Format {
  if (text === 'table' || text === 'json' || text === 'ndjson') return text;
  throw new InputError(`--format "${text}" is not one of table, json, ndjson`);
}

async function withStore(
  configPath: string | undefined,
  fn: (store: ObservationStore) => Promise<void>,
): Promise<void> {
  const { config, source } = await loadConfig(configPath ? { configPath } : {});
  if (config.runtimeAgent.observationStore.type === 'memory') {
    throw new InputError(
      `${source}: runtime_agent.observation_store.type is "memory", which lives inside the running agent; set it to postgres or valkey to query from the CLI, or read the NDJSON export with "function-map verify --offline --observations ${config.runtimeAgent.export.outputPath}"`,
    );
  }
  const logger = createLogger({ level: 'warn' }, { scope: 'store' });
  const store = await openConfiguredStore(config, { logger, source });
  try {
    await fn(store);
  } catch (error) {
    if (isStoreUnavailableError(error))
      throw new UnavailableError(`observation store: ${error.message}`, { cause: error });
    throw error;
  } finally {
    await store.close().catch(() => {});
  }
}

async function write(text: string): Promise<void> {
  if (!process.stdout.write(text)) await new Promise<void>((r) => process.stdout.once('drain', () => r()));
}

async function printObservations(rows: AsyncIterable<Observation>, format: Format): Promise<void> {
  if (format === 'ndjson') {
    // The agent's line format: `function-map verify` reads an exported query on its fast lane.
    for await (const o of rows) await write(observationLine(o));
    return;
  }
  if (format === 'json') {
    let first = true;
    await write('[');
    for await (const o of rows) {
      await write(`${first ? '\n' : ',\n'}  ${JSON.stringify(o)}`);
      first = false;
    }
    await write(first ? ']\n' : '\n]\n');
    return;
  }
  const header = ['OBSERVED AT', 'SERVICE', 'FUNCTION', 'HITS', 'PID', 'COMM', 'BINARY'];
  const table: string[][] = [];
  let n = 0;
  for await (const o of rows) {
    table.push([o.observedAt, o.service, o.function, String(o.hitCount), String(o.pid), o.comm, o.binaryPath]);
    n++;
    // Print in blocks so a long result starts showing at once; widths are per block.
    if (table.length === 1000) await write(renderTable(n === 1000 ? header : undefined, table.splice(0)));
  }
  if (table.length > 0 || n === 0) await write(renderTable(n <= 1000 ? header : undefined, table));
  if (n === 0) await write('(no observations)\n');
}

async function printSummary(rows: FunctionSummary[], format: Format): Promise<void> {
  if (format === 'json') return write(`${JSON.stringify(rows, null, 2)}\n`);
  if (format === 'ndjson') {
    for (const r of rows) await write(`${JSON.stringify(r)}\n`);
    return;
  }
  await write(
    renderTable(
      ['SERVICE', 'FUNCTION', 'HITS', 'RECORDS', 'FIRST SEEN', 'LAST SEEN', 'BINARY'],
      rows.map((r) => [
        r.service,
        r.function,
        String(r.hitCount),
        String(r.records),
        r.firstSeen,
        r.lastSeen,
        r.binaryPath,
      ]),
    ),
  );
  if (rows.length === 0) await write('(no observations)\n');
}

function renderTable(header: string[] | undefined, rows: string[][]): string {
  const all = header ? [header, ...rows] : rows;
  const widths = all[0]?.map((_, i) => Math.max(...all.map((r) => r[i]!.length))) ?? [];
  return (
    all.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ')).join('\n') +
    (all.length ? '\n' : '')
  );
}
