// SPDX-License-Identifier: Apache-2.0
import type { Command } from 'commander';
import { openBundle } from '../../bundle/index.js';
import { InputError } from '../../errors.js';
import { functionMapDigest } from '../../function-map/hash.js';
import { readFunctionMap } from '../../function-map/parse.js';
import {
  annotateSbom,
  type ReportReference,
  raiseSpecVersion,
  readReportReference,
  readSbomDocument,
  serializeSbomDocument,
  tallyObservations,
} from '../../sbom/index.js';
import { parseTimeArg } from '../../time.js';
// Used only inside actions, so the import cycle with main.ts is harmless.
import { VERSION } from '../main.js';
import { writeOutputSafely } from '../safe-output.js';

interface AnnotateFlags {
  sbom: string;
  functionMap?: string;
  observations?: string[];
  from?: string;
  to?: string;
  bundle?: string;
  key?: string;
  report?: string;
  reportUrl?: string;
  output: string;
}

/** The window: --from/--to, else the report's, else the map's window ending now. */
function windowOf(flags: AnnotateFlags, report: ReportReference | undefined, windowSeconds: number) {
  const now = new Date();
  const to = flags.to !== undefined ? parseTimeArg(flags.to, '--to', now) : report ? new Date(report.window.to) : now;
  const from =
    flags.from !== undefined
      ? parseTimeArg(flags.from, '--from', now)
      : report && flags.to === undefined
        ? new Date(report.window.from)
        : new Date(to.getTime() - windowSeconds * 1000);
  if (!(from.getTime() < to.getTime())) {
    throw new InputError(`--from ${from.toISOString()} is not before --to ${to.toISOString()}: the window is empty`);
  }
  return { from, to };
}

export function register(program: Command): void {
  const group = program.command('sbom').description('write runtime evidence back into a CycloneDX SBOM');
  group
    .command('annotate')
    .description(
      'copy a CycloneDX JSON SBOM with runtime evidence (CycloneDX 1.6 evidence.identity, evidence.occurrences, stella: properties) on each component the function map names',
    )
    .requiredOption('--sbom <file>', 'CycloneDX JSON SBOM (1.2–1.7) the function map was generated from')
    .option('--function-map <file>', 'the function map (default: the one in --bundle)')
    .option('--observations <paths...>', 'NDJSON files, directories or globs (.gz read transparently)')
    .option(
      '--from <time>',
      "window start: ISO-8601 or relative (1h, 30m); default: the report's, else to minus the map window",
    )
    .option('--to <time>', "window end (exclusive): ISO-8601 or relative; default: the report's, else now")
    .option('--bundle <tgz>', 'air-gap bundle (stella bundle create): function map, observations and report')
    .option('--key <file>', 'public key the bundle manifest and the report envelope must verify with')
    .option('--report <file>', 'verification report, or its DSSE envelope, to reference as runtime-analysis-report')
    .option('--report-url <url>', 'URL the SBOM gives for the report (default: the --report path as given)')
    .requiredOption('--output <file>', 'where to write the annotated SBOM ("-" for stdout)')
    .action(async (flags: AnnotateFlags) => {
      let functionMapPath = flags.functionMap;
      let observationArgs = flags.observations ?? [];
      let reportPath = flags.report;
      let cleanup: (() => Promise<void>) | undefined;
      if (flags.bundle !== undefined) {
        const opened = await openBundle(flags.bundle, flags.key !== undefined ? { key: flags.key } : {});
        cleanup = opened.cleanup;
        functionMapPath ??= opened.functionMapPath;
        observationArgs = [...opened.observationPaths, ...observationArgs];
        reportPath ??= opened.reportPath;
      }
      try {
        if (functionMapPath === undefined)
          throw new InputError('--function-map <file> is required (or --bundle <tgz>)');
        if (observationArgs.length === 0) {
          throw new InputError('--observations <files, directories or globs> is required (or --bundle <tgz>)');
        }
        const [doc, map] = await Promise.all([readSbomDocument(flags.sbom), readFunctionMap(functionMapPath)]);
        const mapDigest = functionMapDigest(map);
        const reportUrl =
          flags.reportUrl ?? (flags.report === undefined && reportPath !== undefined ? 'report.json' : undefined);
        const report =
          reportPath === undefined
            ? undefined
            : await readReportReference(reportPath, {
                ...(reportUrl !== undefined ? { url: reportUrl } : {}),
                ...(flags.key !== undefined && flags.report !== undefined ? { key: flags.key } : {}),
              });
        if (report && report.functionMapDigest !== mapDigest) {
          throw new InputError(
            `report ${reportPath}: field "functionMap.digest" is ${report.functionMapDigest}, but the function map ${functionMapPath} has digest ${mapDigest}: the report was made against another map`,
          );
        }
        const window = windowOf(flags, report, map.predicate.coverage.windowSeconds);
        const tally = await tallyObservations(map, window, observationArgs);
        const bom = doc.bom;
        raiseSpecVersion(bom);
        const summary = annotateSbom(bom, {
          map,
          mapDigest,
          tally,
          window,
          ...(report !== undefined ? { report } : {}),
          tool: { name: 'stella', version: VERSION },
        });
        await writeOutputSafely(flags.output, serializeSbomDocument(doc), [
          flags.sbom,
          flags.functionMap,
          flags.bundle,
          flags.report,
          ...(flags.observations ?? []),
        ]);
        const skipped = tally.report.observationsSkipped;
        if (tally.report.observationsRead - skipped.malformed - skipped.outOfWindow - skipped.otherService === 0) {
          process.stderr.write(
            `stella: warning: no record of service "${map.predicate.service}" in the window (${tally.report.observationsRead} read: ${skipped.outOfWindow} outside it, ${skipped.otherService} of other services, ${skipped.malformed} malformed): every mapped component is annotated as not observed\n`,
          );
        }
        if (summary.mapPurlsNotInSbom.length > 0) {
          process.stderr.write(
            `stella: warning: ${summary.mapPurlsNotInSbom.length} component(s) of the function map are not in ${flags.sbom}: ${summary.mapPurlsNotInSbom.join(', ')}\n`,
          );
        }
        process.stderr.write(
          `stella: ${flags.output === '-' ? 'annotated SBOM' : `wrote ${flags.output}`}: ${summary.observed.length} of ${summary.mapped.length} mapped component(s) observed in ${window.from.toISOString()}/${window.to.toISOString()} (${tally.report.observationsRead} record(s) read from ${tally.files.length} file(s) of ${tally.nodes.length} node(s), ${tally.nodesInWindow.length} with records in the window)\n`,
        );
      } finally {
        await cleanup?.();
      }
    });
}
