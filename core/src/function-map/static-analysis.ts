// SPDX-License-Identifier: Apache-2.0
/**
 * `--static-analysis F`: a call graph reduced to what the map needs — entrypoints and the chains of
 * hot functions each one reaches, in call order (the last one is the sink):
 *
 * ```json
 * {
 *   "schema": "stella.static-analysis/v1",
 *   "entrypoints": [
 *     { "symbol": "handleLogin", "purl": "pkg:npm/checkout@1.4.0", "description": "POST /login",
 *       "chains": [["auth/pam_authenticate", "auth/pam_acct_mgmt"], ["tls/SSL_connect@libssl.so.3"]] }
 *   ]
 * }
 * ```
 *
 * A function id may end in `@<library>` to choose between libraries carrying the same symbol
 * (libssl.so.3 and node). Each chain becomes one multi-call path from that entrypoint.
 */
import { readFile } from 'node:fs/promises';
import { InputError } from '../errors.js';

export const STATIC_ANALYSIS_SCHEMA = 'stella.static-analysis/v1';

export interface CallChainRef {
  function: string;
  library?: string;
}

export interface StaticEntrypoint {
  symbol: string;
  purl?: string;
  description?: string;
  chains: CallChainRef[][];
}

export interface StaticAnalysis {
  entrypoints: StaticEntrypoint[];
  digest?: string;
}

export function parseStaticAnalysis(json: unknown, source: string): StaticAnalysis {
  const problems: string[] = [];
  const fail = (path: string, msg: string) => problems.push(`  - ${path}: ${msg}`);
  const doc = json as Record<string, unknown>;
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) {
    throw new InputError(`invalid static analysis ${source}: $ must be a JSON object`);
  }
  if (doc.schema !== STATIC_ANALYSIS_SCHEMA) fail('$.schema', `must be "${STATIC_ANALYSIS_SCHEMA}"`);
  for (const key of Object.keys(doc)) if (key !== 'schema' && key !== 'entrypoints') fail(`$.${key}`, 'unknown field');
  const entrypoints: StaticEntrypoint[] = [];
  if (!Array.isArray(doc.entrypoints)) fail('$.entrypoints', 'must be an array');
  else
    doc.entrypoints.forEach((raw: unknown, i: number) => {
      const at = `$.entrypoints[${i}]`;
      const e = raw as Record<string, unknown>;
      if (e === null || typeof e !== 'object' || Array.isArray(e)) {
        fail(at, 'must be an object');
        return;
      }
      for (const key of Object.keys(e))
        if (!['symbol', 'purl', 'description', 'chains'].includes(key)) fail(`${at}.${key}`, 'unknown field');
      if (typeof e.symbol !== 'string' || e.symbol === '') fail(`${at}.symbol`, 'must be a non-empty string');
      if (e.purl !== undefined && (typeof e.purl !== 'string' || !e.purl.startsWith('pkg:')))
        fail(`${at}.purl`, 'must be a purl (pkg:…)');
      if (e.description !== undefined && typeof e.description !== 'string')
        fail(`${at}.description`, 'must be a string');
      const chains: CallChainRef[][] = [];
      if (!Array.isArray(e.chains) || e.chains.length === 0)
        fail(`${at}.chains`, 'must be a non-empty array of chains');
      else
        e.chains.forEach((chain: unknown, j: number) => {
          if (!Array.isArray(chain) || chain.length === 0) {
            fail(`${at}.chains[${j}]`, 'must be a non-empty array of function ids');
            return;
          }
          const refs: CallChainRef[] = [];
          chain.forEach((fn: unknown, k: number) => {
            if (typeof fn !== 'string' || !/^[a-z][a-z0-9_-]*\/[^/@\s]+(?:@[^@\s]+)?$/.test(fn)) {
              fail(`${at}.chains[${j}][${k}]`, 'must be a function id "category/symbol" or "category/symbol@library"');
              return;
            }
            const [f, library] = fn.split('@') as [string, string | undefined];
            refs.push(library === undefined ? { function: f } : { function: f, library });
          });
          chains.push(refs);
        });
      const entry: StaticEntrypoint = { symbol: String(e.symbol), chains };
      if (typeof e.purl === 'string') entry.purl = e.purl;
      if (typeof e.description === 'string') entry.description = e.description;
      entrypoints.push(entry);
    });
  if (problems.length > 0) {
    throw new InputError(
      `invalid static analysis ${source}: ${problems.length} problem${problems.length === 1 ? '' : 's'}\n${problems.join('\n')}`,
    );
  }
  return { entrypoints };
}

export async function readStaticAnalysis(path: string): Promise<StaticAnalysis> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new InputError(
      `cannot read static analysis ${path}: ${code === 'ENOENT' ? 'no such file' : (error as Error).message}`,
    );
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new InputError(`static analysis ${path} is not valid JSON: ${(error as Error).message}`);
  }
  return parseStaticAnalysis(json, path);
}
