// SPDX-License-Identifier: Apache-2.0
import { InputError } from '../errors.js';
import type { PathResult, VerificationReport } from './types.js';

export const REPORT_FORMATS = ['json', 'table', 'markdown', 'junit'] as const;
export type ReportFormat = (typeof REPORT_FORMATS)[number];

export function parseReportFormat(text: string): ReportFormat {
  if ((REPORT_FORMATS as readonly string[]).includes(text)) return text as ReportFormat;
  throw new InputError(`--format "${text}" is not a report format: expected one of ${REPORT_FORMATS.join(', ')}`);
}

/**
 * Report fields come from observations and maps made elsewhere, so a function name or `comm` can
 * carry ESC/BEL sequences (retitle the terminal, hide lines) or bidi overrides. Human formats show
 * every such character as a visible `\xNN`/`\uNNNN` escape instead; a newline in a field is one too,
 * so no field can forge a line of the report.
 */
const UNSAFE =
  // biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is the point
  /[\u0000-\u001f\u007f-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069\ufeff]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;
const visible = (c: string) => {
  const code = c.charCodeAt(0);
  return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
};
export const terminalSafe = (s: string): string => s.replace(UNSAFE, visible);

const pct = (r: number) => `${(Math.round(r * 10000) / 100).toString()}%`;

/** `≥N` when presence-mode probes counted the path: they stop trapping once seen in a window. */
const hitsText = (p: PathResult) => `${p.hitCountIsLowerBound ? '≥' : ''}${p.hitCount}`;

/** `not exercised` / `not observable` for an unobserved path, `-` otherwise. */
const whyText = (p: PathResult) => (p.visibility ? p.visibility.verdict.replace('-', ' ') : '-');

/** The learning line: while the agent learns, coverage is not judged against the map yet. */
function learningText(r: VerificationReport): string | undefined {
  const l = r.learning;
  if (!l) return undefined;
  const span = `${l.from} → ${l.to}`;
  const state = l.state === 'learning' ? `learning until ${l.to}` : l.state;
  return `learning: ${state} (window ${span}, refined map ${l.output})${l.reason ? `: ${l.reason}` : ''}`;
}

const LOWER_BOUND_NOTE =
  '≥N hits: counted in presence mode, where a function stops trapping in a process once seen in the agent window, so the count is a lower bound; observed/missing is exact';

export function formatReport(report: VerificationReport, format: ReportFormat): string {
  switch (format) {
    case 'json':
      return JSON.stringify(report, null, 2) + '\n';
    case 'table':
      return formatTable(report);
    case 'markdown':
      return formatMarkdown(report);
    case 'junit':
      return formatJunit(report);
  }
}

/** One line for humans: verdict, rate, unexpected count. */
export function summaryLine(r: VerificationReport): string {
  const required = r.paths.filter((p) => !p.optional);
  const observed = required.filter((p) => p.observed).length;
  return `${r.verdict.toUpperCase()} ${terminalSafe(r.functionMap.service)}: ${observed}/${required.length} required paths observed (${pct(r.observationRate)}, minimum ${pct(r.minObservationRate)}), ${r.unexpectedSymbolsCount} unexpected symbol(s), ${r.observationsRead} record(s) read`;
}

function columns(rows: string[][]): string {
  const safe = rows.map((r) => r.map(terminalSafe));
  const widths = safe[0]!.map((_, i) => Math.max(...safe.map((r) => r[i]!.length)));
  return safe
    .map((r) =>
      r
        .map((c, i) => c.padEnd(widths[i]!))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

function formatTable(r: VerificationReport): string {
  const out: string[] = [summaryLine(r), `window ${terminalSafe(`${r.window.from} → ${r.window.to}`)}`];
  const learning = learningText(r);
  if (learning) out.push(terminalSafe(learning));
  out.push('');
  const rows = [['STATUS', 'PATH', 'TAGS', 'HITS', 'LAST SEEN', 'WHY UNSEEN', 'MISSING']];
  for (const p of r.paths) {
    rows.push([
      p.observed ? 'ok' : p.optional ? 'optional' : 'MISSING',
      p.pathId,
      p.tags.join(','),
      hitsText(p),
      p.lastSeen ?? '-',
      whyText(p),
      p.missingCalls.map((c) => c.function).join(' ') || '-',
    ]);
  }
  out.push(columns(rows));
  const explained = r.paths.filter((p) => p.visibility && !p.optional);
  if (explained.length > 0) out.push('');
  for (const p of explained) out.push(terminalSafe(`${p.pathId}: ${whyText(p)}: ${p.visibility?.reason}`));
  if (r.paths.some((p) => p.hitCountIsLowerBound)) out.push(LOWER_BOUND_NOTE);
  const tags = Object.entries(r.perTag);
  if (tags.length > 0) {
    out.push(
      '',
      columns([
        ['TAG', 'RATE', 'OBSERVED', 'MIN', 'PASS'],
        ...tags.map(([t, v]) => [
          t,
          pct(v.rate),
          `${v.observed}/${v.required}`,
          v.min === null ? '-' : pct(v.min),
          v.pass ? 'yes' : 'NO',
        ]),
      ]),
    );
  }
  if (r.unexpectedSymbols.length > 0) {
    out.push(
      '',
      'UNEXPECTED SYMBOLS',
      columns([
        ['FUNCTION', 'BINARY', 'HITS', 'FIRST SEEN', 'PROCESSES'],
        ...r.unexpectedSymbols.map((u) => [
          u.function,
          u.binaryPath,
          String(u.hitCount),
          u.firstSeen,
          u.processes.map((p) => `${p.comm}[${p.pid}]`).join(' '),
        ]),
      ]),
    );
  }
  const s = r.observationsSkipped;
  out.push('', `skipped: ${s.malformed} malformed, ${s.outOfWindow} out of window, ${s.otherService} other service`);
  for (const m of s.malformedSamples) out.push(`  ${terminalSafe(m.location)}: ${terminalSafe(m.reason)}`);
  for (const reason of r.failureReasons) out.push(`fail: ${terminalSafe(reason)}`);
  return out.join('\n') + '\n';
}

/** A table cell: no control character, pipe, HTML, link or emphasis markup can leave it. */
const mdCell = (s: string) =>
  terminalSafe(s)
    .replace(/[\\`*[\]|]/g, (c) => `\\${c}`)
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;');
/** A code span: a backtick would close it early, so it is shown as `\x60`; GFM tables still need `\|`. */
const mdCode = (s: string) => `\`${terminalSafe(s).replace(/`/g, '\\x60').replace(/\|/g, '\\|')}\``;

function formatMarkdown(r: VerificationReport): string {
  const out: string[] = [
    `## Runtime linkage: ${mdCell(r.functionMap.service)} — ${r.verdict === 'pass' ? '✅ pass' : '❌ fail'}`,
    '',
    `- Observation rate: **${pct(r.observationRate)}** (minimum ${pct(r.minObservationRate)})`,
    `- Unexpected symbols: **${r.unexpectedSymbolsCount}**`,
    `- Window: ${mdCell(`${r.window.from} → ${r.window.to}`)}`,
    `- Records read: ${r.observationsRead} (malformed ${r.observationsSkipped.malformed}, out of window ${r.observationsSkipped.outOfWindow}, other service ${r.observationsSkipped.otherService})`,
    `- Map digest: \`${r.functionMap.digest}\``,
  ];
  const learning = learningText(r);
  if (learning) out.push(`- ${mdCell(learning)}`);
  for (const reason of r.failureReasons) out.push(`- Failure: ${mdCell(reason)}`);
  if (r.paths.some((p) => p.hitCountIsLowerBound)) out.push(`- ${LOWER_BOUND_NOTE}`);
  out.push('', '| Path | Tags | Observed | Hits | Last seen | Missing | Why unseen |', '|---|---|---|---|---|---|---|');
  for (const p of r.paths) {
    const why = p.visibility ? `**${whyText(p)}**: ${mdCell(p.visibility.reason)}` : '—';
    out.push(
      `| ${mdCell(p.pathId)}${p.optional ? ' _(optional)_' : ''} | ${mdCell(p.tags.join(', '))} | ${p.observed ? 'yes' : 'no'} | ${hitsText(p)} | ${mdCell(p.lastSeen ?? '—')} | ${p.missingCalls.map((c) => mdCode(c.function)).join(' ') || '—'} | ${why} |`,
    );
  }
  if (r.unexpectedSymbols.length > 0) {
    out.push(
      '',
      '### Unexpected symbols',
      '',
      '| Function | Binary | Hits | First seen | Processes |',
      '|---|---|---|---|---|',
    );
    for (const u of r.unexpectedSymbols) {
      out.push(
        `| ${mdCode(u.function)} | ${mdCell(u.binaryPath)} | ${u.hitCount} | ${mdCell(u.firstSeen)} | ${u.processes.map((p) => `${mdCell(p.comm)} (${p.pid})`).join(', ')} |`,
      );
    }
  }
  return out.join('\n') + '\n';
}

/**
 * Text and attribute values that are well-formed XML 1.0 whatever they held: the five markup
 * characters as entities, whitespace as character references (attribute values would otherwise
 * normalise it away), and characters XML 1.0 cannot carry at all (other C0 controls, lone
 * surrogates, U+FFFE/U+FFFF) as visible `\xNN`/`\uNNNN` text.
 */
const XML_FORBIDDEN =
  // biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is the point
  /[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;
const xml = (s: string) =>
  s
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&apos;')
    .replace(/\t/g, '&#9;')
    .replace(/\n/g, '&#10;')
    .replace(/\r/g, '&#13;')
    .replace(XML_FORBIDDEN, visible);

/** JUnit XML: a test case per path (optional ones skipped when unseen), per tag minimum, and unexpected symbols. */
function formatJunit(r: VerificationReport): string {
  const cases: string[] = [];
  let failures = 0;
  let skipped = 0;
  for (const p of r.paths) {
    const name = xml(p.pathId);
    if (p.observed) cases.push(`    <testcase classname="paths" name="${name}"/>`);
    else if (p.optional) {
      skipped++;
      cases.push(
        `    <testcase classname="paths" name="${name}"><skipped message="optional path not observed"/></testcase>`,
      );
    } else {
      failures++;
      const why = p.visibility ? ` (${whyText(p)}: ${p.visibility.reason})` : '';
      const msg = `not observed${why}; missing ${p.missingCalls.map((c) => `${c.function} in ${c.binaryPath}`).join(', ')}`;
      cases.push(`    <testcase classname="paths" name="${name}"><failure message="${xml(msg)}"/></testcase>`);
    }
  }
  const overall = `observation rate ${pct(r.observationRate)} below minimum ${pct(r.minObservationRate)}`;
  const rateOk = r.observationRate >= r.minObservationRate;
  if (!rateOk) failures++;
  cases.push(
    `    <testcase classname="coverage" name="observationRate"${rateOk ? '/>' : `><failure message="${xml(overall)}"/></testcase>`}`,
  );
  for (const [tag, t] of Object.entries(r.perTag)) {
    if (t.min === null) continue;
    if (!t.pass) failures++;
    cases.push(
      `    <testcase classname="coverage" name="tag ${xml(tag)}"${t.pass ? '/>' : `><failure message="${xml(`rate ${pct(t.rate)} below minimum ${pct(t.min)}`)}"/></testcase>`}`,
    );
  }
  const unexpectedFails = r.failureReasons.some((f) => f.includes('failOnUnexpected'));
  if (unexpectedFails) failures++;
  const list = r.unexpectedSymbols.map((u) => `${u.function} in ${u.binaryPath} (${u.hitCount} hits)`).join('\n');
  cases.push(
    `    <testcase classname="unexpected" name="unexpectedSymbols"${
      unexpectedFails
        ? `><failure message="${r.unexpectedSymbolsCount} unexpected symbol(s)">${xml(list)}</failure></testcase>`
        : r.unexpectedSymbolsCount > 0
          ? `><system-out>${xml(list)}</system-out></testcase>`
          : '/>'
    }`,
  );
  const suite = xml(`stella function-map verify ${r.functionMap.service}`);
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites name="${suite}" tests="${cases.length}" failures="${failures}" skipped="${skipped}">`,
    `  <testsuite name="${suite}" tests="${cases.length}" failures="${failures}" skipped="${skipped}" timestamp="${xml(r.generatedAt)}">`,
    ...cases,
    '  </testsuite>',
    '</testsuites>',
    '',
  ].join('\n');
}
