// SPDX-License-Identifier: Apache-2.0
import type { Command } from 'commander';
import { buildCbom, cbomSummary, tallyAlgorithms } from '../../cbom/index.js';
import { InputError } from '../../errors.js';
import { functionMapDigest } from '../../function-map/hash.js';
import { readFunctionMap } from '../../function-map/parse.js';
import { parseTimeArg } from '../../time.js';
// Used only inside actions, so the import cycle with main.ts is harmless.
import { VERSION } from '../main.js';
import { writeOutputSafely } from '../safe-output.js';

interface CbomFlags {
  observations: string[];
  functionMap?: string;
  from?: string;
  to?: string;
  output: string;
}

/** --from/--to when either is given (the other open: the epoch, or now), else every record. */
function windowOf(flags: CbomFlags): { from: Date; to: Date } | undefined {
  if (flags.from === undefined && flags.to === undefined) return undefined;
  const now = new Date();
  const from = flags.from !== undefined ? parseTimeArg(flags.from, '--from', now) : new Date(0);
  const to = flags.to !== undefined ? parseTimeArg(flags.to, '--to', now) : now;
  if (!(from.getTime() < to.getTime())) {
    throw new InputError(`--from ${from.toISOString()} is not before --to ${to.toISOString()}: the window is empty`);
  }
  return { from, to };
}

export function register(program: Command): void {
  program
    .command('cbom')
    .description(
      'write a CycloneDX 1.6 cryptographic BOM of the algorithms the crypto probes read at each call, with a summary of the quantum-vulnerable ones first',
    )
    .requiredOption('--observations <paths...>', 'NDJSON files, directories or globs (.gz read transparently)')
    .option('--function-map <file>', "only the map's service, and the map's digest recorded in the CBOM")
    .option('--from <time>', 'window start: ISO-8601 or relative (1h, 30m); default: every record')
    .option('--to <time>', 'window end (exclusive): ISO-8601 or relative; default: now when --from is given')
    .requiredOption('--output <file>', 'where to write the CBOM ("-" for stdout)')
    .action(async (flags: CbomFlags) => {
      const window = windowOf(flags);
      const map = flags.functionMap !== undefined ? await readFunctionMap(flags.functionMap) : undefined;
      const service = map?.predicate.service;
      const tally = await tallyAlgorithms(flags.observations, {
        ...(window ? { window } : {}),
        ...(service !== undefined ? { service } : {}),
      });
      const bom = buildCbom(tally, {
        tool: { name: 'stella', version: VERSION },
        ...(window ? { window } : {}),
        ...(service !== undefined ? { service } : {}),
        ...(map ? { functionMapDigest: functionMapDigest(map) } : {}),
      });
      await writeOutputSafely(flags.output, `${JSON.stringify(bom, null, 2)}\n`, [
        flags.functionMap,
        ...flags.observations,
      ]);
      // On stderr, before the last line: the document may be long, or be stdout.
      process.stderr.write(cbomSummary(tally));
      if (tally.malformed > 0) {
        process.stderr.write(
          `stella: warning: ${tally.malformed} line(s) were not observation records and were skipped\n`,
        );
      }
      process.stderr.write(
        `stella: ${flags.output === '-' ? 'CBOM written' : `wrote ${flags.output}`}: ${tally.read} record(s) read from ${tally.files.length} file(s)${tally.outside > 0 ? `, ${tally.outside} outside the window or service` : ''}\n`,
      );
    });
}
