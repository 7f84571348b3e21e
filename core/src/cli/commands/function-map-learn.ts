// SPDX-License-Identifier: Apache-2.0
import type { Command } from 'commander';
import { InputError } from '../../errors.js';
import { serializeFunctionMap } from '../../function-map/generate.js';
import { functionMapDigest } from '../../function-map/hash.js';
import { formatLearnDiff, learnFunctionMap } from '../../function-map/learn.js';
import { parseFunctionMap, readFunctionMap } from '../../function-map/parse.js';
import { digestObservationFiles, tallyObservations } from '../../sbom/tally.js';
import { parseTimeArg } from '../../time.js';
// Used only inside actions, so the import cycle with main.ts is harmless.
import { VERSION } from '../main.js';
import { writeOutputSafely } from '../safe-output.js';

interface LearnFlags {
  functionMap: string;
  observations: string[];
  from?: string;
  to?: string;
  dropUnobserved?: boolean;
  acceptUnexpected?: boolean | string[];
  output: string;
}

/** Adds `learn` to the `function-map` command group. */
export function registerLearn(group: Command): void {
  group
    .command('learn')
    .description(
      'refine a function map from what a learning window observed: observed paths stay required, required paths never observed become optional; prints what changed and why',
    )
    .requiredOption('--function-map <file>', 'the map to refine (JSON, camelCase or snake_case)')
    .requiredOption('--observations <paths...>', 'NDJSON files, directories or globs (.gz read transparently)')
    .option('--from <time>', 'learning window start: ISO-8601 or relative (24h, 30m); default: to minus the map window')
    .option('--to <time>', 'learning window end (exclusive): ISO-8601 or relative; default now')
    .option('--drop-unobserved', 'drop required paths never observed instead of making them optional')
    .option(
      '--accept-unexpected [globs...]',
      'add observed undeclared calls as required paths: all, or those whose function id matches a glob (net/*); default: list them for review',
    )
    .requiredOption('--output <file>', 'where to write the refined map ("-" for stdout)')
    .action(async (flags: LearnFlags) => {
      const map = await readFunctionMap(flags.functionMap);
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
      if (flags.observations.includes('-')) {
        throw new InputError(
          '--observations -: learning records a digest of its inputs, so it reads files, not standard input',
        );
      }
      const tally = await tallyObservations(map, { from, to }, flags.observations);
      const { report } = tally;
      const skipped = report.observationsSkipped;
      const inWindow = report.observationsRead - skipped.malformed - skipped.outOfWindow - skipped.otherService;
      if (inWindow === 0) {
        throw new InputError(
          `--observations: no record of service "${map.predicate.service}" in ${from.toISOString()}/${to.toISOString()} (${report.observationsRead} read: ${skipped.outOfWindow} outside the window, ${skipped.otherService} of other services, ${skipped.malformed} malformed); nothing to learn from`,
        );
      }
      const result = learnFunctionMap({
        map,
        report,
        provenance: {
          from: from.toISOString(),
          to: to.toISOString(),
          observationsDigest: await digestObservationFiles(tally.files),
          observationsInWindow: inWindow,
          baseMapDigest: functionMapDigest(map),
        },
        dropUnobserved: flags.dropUnobserved === true,
        acceptUnexpected: flags.acceptUnexpected ?? false,
        generator: { name: 'stella', version: VERSION },
      });
      const text = serializeFunctionMap(result.map);
      // What is written must read back as a map (schema and all): a learned map is fed to verify and signed.
      try {
        parseFunctionMap(JSON.parse(text), flags.output);
      } catch (error) {
        throw new Error(`the learned map does not pass the function map schema (a bug): ${(error as Error).message}`);
      }
      await writeOutputSafely(flags.output, text, [flags.functionMap, ...flags.observations]);
      process.stderr.write(
        `stella: learned from ${inWindow} record(s) of ${map.predicate.service} in ${from.toISOString()}/${to.toISOString()} (${tally.files.length} file(s)):\n${formatLearnDiff(result, map)}`,
      );
      if (flags.output !== '-') process.stderr.write(`stella: wrote ${flags.output}\n`);
    });
}
