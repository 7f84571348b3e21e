// SPDX-License-Identifier: Apache-2.0
import type { CatalogueEntry, ObservationStore, Priority } from '@stella/sdk';
import { isStoreUnavailableError } from '@stella/stores';
import type { Command } from 'commander';
import { openBundle } from '../../bundle/index.js';
import { loadConfig } from '../../config/load.js';
import { InputError, UnavailableError, VerificationFailedError } from '../../errors.js';
import { openConfiguredStore } from '../../export/open-store.js';
import { generateFunctionMap, PRIORITY_RANK, serializeFunctionMap } from '../../function-map/generate.js';
import { readFunctionMap } from '../../function-map/parse.js';
import { readSbom } from '../../function-map/sbom.js';
import { readStaticAnalysis } from '../../function-map/static-analysis.js';
import { createLogger } from '../../logger.js';
import { writeOutput } from '../../output.js';
import { cataloguesOf, loadPlugins } from '../../plugins/load.js';
import { parseTimeArg } from '../../time.js';
import { VerificationAccumulator } from '../../verify/accumulator.js';
import { formatReport, parseReportFormat, summaryLine } from '../../verify/format.js';
import { expandObservationInputs } from '../../verify/inputs.js';
import { readObservationFiles } from '../../verify/ndjson.js';
import { readObservationFilesParallel } from '../../verify/parallel.js';
// Used only inside actions, so the import cycle with main.ts is harmless.
import { VERSION } from '../main.js';
import { registerLearn } from './function-map-learn.js';

const MAX_WARNINGS = 20;
/** The map schema's bound on coverage.windowSeconds: beyond it window dates overflow. */
const MAX_WINDOW_SECONDS = 3_153_600_000;
const collect = (value: string, previous: string[] = []) => [...previous, value];

function rateArg(text: string, flag: string): number {
  const n = Number(text);
  if (text.trim() === '' || !Number.isFinite(n) || n < 0 || n > 1) {
    throw new InputError(`${flag} "${text}" is not a rate: expected a number from 0 to 1, e.g. 0.95`);
  }
  return n;
}

function tagRates(pairs: string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const pair of pairs) {
    const m = /^([^=\s]+)=(.*)$/.exec(pair);
    if (!m) throw new InputError(`--tag-min-rate "${pair}" is not tag=rate, e.g. crypto=0.99`);
    out[m[1]!] = rateArg(m[2]!, `--tag-min-rate ${m[1]}`);
  }
  return out;
}

/**
 * The catalogues of the probe plugins the agent configuration loads (`--config`, else the
 * cosmiconfig search; the built-ins when none names plugins), so a third-party plugin's
 * catalogue extends generation exactly as it extends probing.
 */
async function configuredCatalogue(
  configPath: string | undefined,
  warn: (msg: string) => void,
): Promise<CatalogueEntry[]> {
  const { config } = await loadConfig(configPath ? { configPath } : {});
  const logger = {
    ...createLogger({ level: 'warn' }),
    error: (msg: string) => warn(`${msg}; its functions are not in the map`),
  };
  return cataloguesOf(await loadPlugins(config, logger));
}

/**
 * Without --offline/--bundle: the store the agent writes to (`runtime_agent.observation_store`).
 * The memory store lives inside the running agent, so for it the agent's NDJSON export on this
 * node (`export.output_path`, the live segment included) is read instead, and the report says so.
 */
async function readFromConfiguredStore(configPath: string | undefined, acc: VerificationAccumulator): Promise<void> {
  const { config, source } = await loadConfig(configPath ? { configPath } : {});
  if (config.runtimeAgent.observationStore.type === 'memory') {
    const outputPath = config.runtimeAgent.export.outputPath;
    process.stderr.write(
      `stella: ${source}: the memory store lives inside the agent; reading its NDJSON export ${outputPath} instead\n`,
    );
    const files = await expandObservationInputs([outputPath]).catch((error: unknown) => {
      throw new InputError(
        `${source}: runtime_agent.observation_store.type is "memory" and its NDJSON export ${outputPath} cannot be read (${(error as Error).message}); run verify on the agent's node, or configure postgres or valkey`,
      );
    });
    await readObservationFiles(files, acc);
    return;
  }
  const store: ObservationStore = await openConfiguredStore(config, {
    logger: createLogger({ level: 'warn' }, { scope: 'store' }),
    source,
  });
  try {
    const { service } = acc.map.predicate;
    for await (const obs of store.query({ service, from: acc.window.from, to: acc.window.to })) acc.add(obs);
  } catch (error) {
    if (isStoreUnavailableError(error)) {
      throw new UnavailableError(`observation store: ${(error as Error).message}`, { cause: error });
    }
    throw error;
  } finally {
    await store.close().catch(() => {});
  }
}

interface GenerateFlags {
  config?: string;
  sbom: string;
  service: string;
  hotFunctions?: string[];
  minRate: string;
  window: string;
  buildId?: string;
  rootfs?: string;
  staticAnalysis?: string;
  tagMinRate?: string[];
  optionalBelow?: string;
  failOnUnexpected?: boolean;
  output: string;
}

interface VerifyFlags {
  functionMap?: string;
  from?: string;
  to?: string;
  offline?: boolean;
  observations?: string[];
  bundle?: string;
  key?: string;
  config?: string;
  format: string;
  output?: string;
  workers?: string;
}

export function register(program: Command): void {
  const group = program
    .command('function-map')
    .description('generate a function map from an SBOM, and verify observations against it');

  group
    .command('generate')
    .description('write a function map (expected crypto, TLS, auth, net and file calls) from a CycloneDX JSON SBOM')
    .requiredOption('--sbom <file>', 'CycloneDX JSON SBOM (1.2–1.7; syft, trivy, cdxgen)')
    .requiredOption('--service <name>', 'service name the observations will carry')
    .option(
      '--hot-functions <glob>',
      'function ids to include, e.g. "crypto/*", "tls/SSL_*" (repeatable; default all)',
      collect,
    )
    .option('--min-rate <rate>', 'minimum observation rate', '0.95')
    .option('--window <seconds>', 'verification window in seconds', '1800')
    .option('--build-id <id>', 'CI build id')
    .option('--rootfs <dir>', 'resolve libraries in this root filesystem, check symbols, record build-ids')
    .option('--static-analysis <file>', 'call graph (stella.static-analysis/v1) turning single calls into paths')
    .option('--tag-min-rate <tag=rate>', 'per-tag minimum rate, e.g. crypto=0.99 (repeatable)', collect)
    .option('--optional-below <priority>', 'mark paths below this priority optional (crypto > auth > net > general)')
    .option('--fail-on-unexpected', 'fail verification when an undeclared function is observed')
    .requiredOption('--output <file>', 'where to write the map ("-" for stdout)')
    .option(
      '--config <file>',
      'agent configuration whose probe plugins supply the catalogues (default: searched as the agent does)',
    )
    .action(async (flags: GenerateFlags) => {
      const windowSeconds = Number(flags.window);
      if (!Number.isInteger(windowSeconds) || windowSeconds < 1 || windowSeconds > MAX_WINDOW_SECONDS) {
        throw new InputError(
          `--window "${flags.window}" is not a number of seconds: expected a whole number from 1 to ${MAX_WINDOW_SECONDS} (100 years), e.g. 1800`,
        );
      }
      if (flags.optionalBelow !== undefined && !(flags.optionalBelow in PRIORITY_RANK)) {
        throw new InputError(
          `--optional-below "${flags.optionalBelow}" is not a priority: expected one of crypto, auth, net, general`,
        );
      }
      if ((flags.hotFunctions ?? []).some((glob) => glob.trim() === '')) {
        throw new InputError('--hot-functions is empty: expected a function id glob such as "crypto/*" or "tls/SSL_*"');
      }
      const warn = (msg: string) => process.stderr.write(`stella: warning: ${msg}\n`);
      const [sbom, staticAnalysis, catalogue] = await Promise.all([
        readSbom(flags.sbom),
        flags.staticAnalysis ? readStaticAnalysis(flags.staticAnalysis) : Promise.resolve(undefined),
        configuredCatalogue(flags.config, warn),
      ]);
      const { map, warnings } = await generateFunctionMap({
        sbom,
        sbomRef: flags.sbom,
        service: flags.service,
        catalogue,
        hotFunctions: flags.hotFunctions ?? [],
        minRate: rateArg(flags.minRate, '--min-rate'),
        windowSeconds,
        ...(flags.buildId !== undefined ? { buildId: flags.buildId } : {}),
        ...(flags.rootfs !== undefined ? { rootfs: flags.rootfs } : {}),
        ...(staticAnalysis ? { staticAnalysis, staticAnalysisRef: flags.staticAnalysis! } : {}),
        tagMinRates: tagRates(flags.tagMinRate ?? []),
        ...(flags.optionalBelow !== undefined ? { optionalBelow: flags.optionalBelow as Priority } : {}),
        failOnUnexpected: flags.failOnUnexpected === true,
        generator: { name: 'stella', version: VERSION },
      });
      // 100 k near-identical components must not print 200 k lines: the first few, then a count.
      for (const w of warnings.slice(0, MAX_WARNINGS)) warn(w);
      if (warnings.length > MAX_WARNINGS)
        warn(`${warnings.length - MAX_WARNINGS} more warning(s) like these were left out`);
      await writeOutput(flags.output, serializeFunctionMap(map), {
        flag: '--output',
        inputs: [flags.sbom, flags.staticAnalysis, flags.config],
      });
      if (flags.output !== '-') {
        const paths = map.predicate.expectedPaths;
        process.stderr.write(
          `stella: wrote ${flags.output}: ${paths.length} expected path(s), ${paths.filter((p) => !p.optional).length} required, ${new Set(paths.flatMap((p) => p.expectedCalls.map((c) => c.nodeHash))).size} distinct call(s)\n`,
        );
      }
    });

  group
    .command('verify')
    .description('verify observations against a function map; exit 0 pass, 1 verification failed, 2 bad input')
    .option('--function-map <file>', 'the function map (JSON, camelCase or snake_case)')
    .option('--from <time>', 'window start: ISO-8601 or relative (1h, 30m); default = to minus the map window')
    .option('--to <time>', 'window end (exclusive): ISO-8601 or relative; default now')
    .option('--offline', 'read observations from files instead of the configured store')
    .option('--observations <paths...>', 'NDJSON files, directories or globs (.gz read transparently)')
    .option('--bundle <tgz>', 'air-gap bundle (stella bundle create): function map and observations')
    .option('--key <file>', 'public key to check the bundle signature with')
    .option('--config <file>', 'agent configuration naming the observation store (default: searched as the agent does)')
    .option('--format <format>', 'json, table, markdown or junit', 'json')
    .option('--output <file>', 'write the report here instead of stdout')
    .option('--workers <n>', 'parallel readers for large offline inputs (default: one per CPU; 1 = sequential)')
    .action(async (flags: VerifyFlags) => {
      const format = parseReportFormat(flags.format);
      let functionMapPath = flags.functionMap;
      let observationArgs = flags.observations ?? [];
      let cleanup: (() => Promise<void>) | undefined;
      if (flags.bundle !== undefined) {
        // A bundle is evidence sealed as a whole (and signed with --key): a map or observations
        // from elsewhere would be verified as if they were part of it.
        const extra =
          flags.functionMap !== undefined
            ? '--function-map'
            : observationArgs.length > 0
              ? '--observations'
              : undefined;
        if (extra !== undefined) {
          throw new InputError(
            `${extra} cannot be combined with --bundle: the bundle's own function map and observations are what is verified; verify the bundle alone, or the files without --bundle`,
          );
        }
        const opened = await openBundle(flags.bundle, flags.key !== undefined ? { key: flags.key } : {});
        cleanup = opened.cleanup;
        functionMapPath = opened.functionMapPath;
        observationArgs = opened.observationPaths;
      } else if (observationArgs.length === 0 && flags.offline) {
        throw new InputError('--offline needs --observations <files, directories or globs>');
      }
      try {
        if (functionMapPath === undefined)
          throw new InputError('--function-map <file> is required (or --bundle <tgz>)');
        const map = await readFunctionMap(functionMapPath);
        if (map.predicate.expectedPaths.length === 0) {
          throw new InputError(
            `function map ${functionMapPath} has no expected paths, so there is nothing to verify (did generate match no SBOM component?)`,
          );
        }
        const now = new Date();
        const to = flags.to !== undefined ? parseTimeArg(flags.to, '--to', now) : now;
        const from =
          flags.from !== undefined
            ? parseTimeArg(flags.from, '--from', now)
            : new Date(to.getTime() - map.predicate.coverage.windowSeconds * 1000);
        if (!(from.getTime() < to.getTime())) {
          throw new InputError(
            `--from ${from.toISOString()} is not before --to ${to.toISOString()}: the window is empty`,
          );
        }
        const acc = new VerificationAccumulator(map, { from, to });
        if (observationArgs.length > 0) {
          const workers = flags.workers === undefined ? undefined : Number(flags.workers);
          if (workers !== undefined && !(Number.isInteger(workers) && workers >= 1)) {
            throw new InputError(`--workers "${flags.workers}" is not a count: expected a whole number ≥ 1`);
          }
          await readObservationFilesParallel(await expandObservationInputs(observationArgs), acc, { workers });
        } else {
          await readFromConfiguredStore(flags.config, acc);
        }
        const report = acc.report();
        await writeOutput(flags.output ?? '-', formatReport(report, format), {
          flag: '--output',
          inputs: [functionMapPath, flags.bundle, flags.config, ...observationArgs],
        });
        if (flags.output !== undefined) process.stderr.write(`stella: ${summaryLine(report)} → ${flags.output}\n`);
        if (report.verdict === 'fail') {
          throw new VerificationFailedError(
            `verification failed for ${map.predicate.service}: ${report.failureReasons.join('; ')}`,
          );
        }
      } finally {
        await cleanup?.();
      }
    });

  registerLearn(group);
}
