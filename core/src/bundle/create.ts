// SPDX-License-Identifier: Apache-2.0
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { copyFile, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname, join, relative, sep } from 'node:path';
import { c as createTar } from 'tar';
import { signEnvelope } from '../attest/dsse.js';
import { loadPrivateKey } from '../attest/keys.js';
import { InputError } from '../errors.js';
import { readFunctionMap } from '../function-map/parse.js';
import { writeOutput } from '../output.js';
import {
  BUNDLE_MANIFEST_PAYLOAD_TYPE,
  BUNDLE_MANIFEST_TYPE,
  type BundleFileEntry,
  type BundleManifest,
  FUNCTION_MAP_BUNDLE_PATH,
  MANIFEST_ENVELOPE_PATH,
  MANIFEST_PATH,
  OBSERVATIONS_DIR,
  REPORT_BUNDLE_PATH,
} from './manifest.js';

async function checkReport(file: string): Promise<void> {
  let report: unknown;
  try {
    report = JSON.parse(await readFile(file, 'utf8'));
  } catch (error) {
    throw new InputError(`report ${file} is not valid JSON: ${(error as Error).message}`);
  }
  const r = report as Record<string, unknown> | null;
  if (typeof r !== 'object' || r === null || (r.verdict !== 'pass' && r.verdict !== 'fail')) {
    throw new InputError(
      `report ${file} is not a verification report: expected a JSON object with "verdict" pass or fail`,
    );
  }
}

/** Observation files picked up from an --observations directory (the agent's NDJSON export). */
export const OBSERVATION_FILE = /\.(ndjson|jsonl)(\.gz)?$/;

export interface CreateBundleOptions {
  functionMap: string;
  /** Directories (walked recursively for *.ndjson, *.jsonl, optionally .gz) or single files. */
  observations: string[];
  report?: string;
  /** Private key: the manifest is then signed as manifest.dsse.json. */
  signKey?: string;
  output: string;
  /** Told about files left out (symbolic links in an observations directory). */
  warn?: (message: string) => void;
}

async function statInput(path: string, what: string) {
  try {
    return await stat(path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new InputError(`cannot read ${what} ${path}: ${code === 'ENOENT' ? 'no such file or directory' : code}`, {
      cause: error,
    });
  }
}

/**
 * Regular files only: a symlink inside an observations directory (`x.ndjson -> /etc/shadow`) could
 * pack any file this user can read into a bundle that leaves the machine, so it is skipped with a
 * warning. A file named directly on the command line is the user's own choice and is taken as named.
 */
async function walkObservations(dir: string, warn: (message: string) => void): Promise<string[]> {
  const found: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isSymbolicLink()) {
      if (OBSERVATION_FILE.test(entry.name) || (await stat(path).catch(() => undefined))?.isDirectory()) {
        warn(`${path} is a symbolic link; skipped (only regular files inside an observations directory are bundled)`);
      }
    } else if (entry.isDirectory()) found.push(...(await walkObservations(path, warn)));
    else if (entry.isFile() && OBSERVATION_FILE.test(entry.name)) found.push(path);
  }
  return found;
}

/** Maps every observation source to its place under observations/ in the bundle. */
async function collectObservations(sources: string[], warn: (message: string) => void): Promise<Map<string, string>> {
  const byBundlePath = new Map<string, string>();
  for (const source of sources) {
    const info = await statInput(source, 'observations');
    const files = info.isDirectory() ? await walkObservations(source, warn) : [source];
    if (files.length === 0) {
      throw new InputError(`no observation files (*.ndjson, *.jsonl, optionally .gz) in ${source}`);
    }
    for (const file of files) {
      const rel = info.isDirectory() ? relative(source, file).split(sep).join('/') : basename(file);
      const bundlePath = `${OBSERVATIONS_DIR}/${rel}`;
      const other = byBundlePath.get(bundlePath);
      if (other !== undefined) {
        throw new InputError(
          `observation files ${other} and ${file} would both be stored as ${bundlePath}; rename one`,
        );
      }
      byBundlePath.set(bundlePath, file);
    }
  }
  return byBundlePath;
}

/** core/package.json's version: two levels up from both src/bundle and dist/bundle. */
async function generatorVersion(): Promise<string> {
  try {
    const pkg = JSON.parse(await readFile(new URL('../../package.json', import.meta.url), 'utf8')) as {
      version?: string;
    };
    return pkg.version ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

async function describe(root: string, path: string): Promise<BundleFileEntry> {
  const hash = createHash('sha256');
  let size = 0;
  for await (const chunk of createReadStream(join(root, path))) {
    hash.update(chunk as Buffer);
    size += (chunk as Buffer).length;
  }
  return { path, sha256: hash.digest('hex'), size };
}

/**
 * `stella bundle create`: stages the function map, observations and optional report, writes
 * manifest.json (sha256 and size of each) and, with a key, manifest.dsse.json, then packs the
 * lot as a gzip tar written atomically to `output`.
 */
export async function createBundle(options: CreateBundleOptions): Promise<BundleManifest> {
  if (!(await statInput(options.functionMap, 'function map')).isFile()) {
    throw new InputError(`function map ${options.functionMap} is not a file`);
  }
  if (options.report !== undefined && !(await statInput(options.report, 'report')).isFile()) {
    throw new InputError(`report ${options.report} is not a file`);
  }
  // A bundle vouches for its contents: a map that is not one (or a report that is not JSON) is
  // refused here rather than discovered on the air-gapped side.
  await readFunctionMap(options.functionMap);
  if (options.report !== undefined) await checkReport(options.report);
  if (options.observations.length === 0)
    throw new InputError('at least one --observations directory or file is required');
  const observations = await collectObservations(options.observations, options.warn ?? (() => {}));
  const privateKey = options.signKey === undefined ? undefined : await loadPrivateKey(options.signKey);

  const staging = await mkdtemp(join(tmpdir(), 'stella-bundle-'));
  try {
    const sources = new Map<string, string>([[FUNCTION_MAP_BUNDLE_PATH, options.functionMap], ...observations]);
    if (options.report !== undefined) sources.set(REPORT_BUNDLE_PATH, options.report);
    for (const [bundlePath, source] of sources) {
      await mkdir(dirname(join(staging, bundlePath)), { recursive: true });
      await copyFile(source, join(staging, bundlePath));
    }
    const paths = [...sources.keys()].sort();
    const manifest: BundleManifest = {
      _type: BUNDLE_MANIFEST_TYPE,
      schemaVersion: '1.0.0',
      createdAt: new Date().toISOString(),
      generator: { name: 'stella', version: await generatorVersion() },
      functionMap: FUNCTION_MAP_BUNDLE_PATH,
      observations: [...observations.keys()].sort(),
      ...(options.report !== undefined ? { report: REPORT_BUNDLE_PATH } : {}),
      files: await Promise.all(paths.map((p) => describe(staging, p))),
    };
    const manifestBytes = Buffer.from(`${JSON.stringify(manifest, null, 2)}\n`);
    await writeFile(join(staging, MANIFEST_PATH), manifestBytes);
    const entries = [MANIFEST_PATH];
    if (privateKey) {
      const envelope = signEnvelope(BUNDLE_MANIFEST_PAYLOAD_TYPE, manifestBytes, privateKey, options.signKey);
      await writeFile(join(staging, MANIFEST_ENVELOPE_PATH), `${JSON.stringify(envelope, null, 2)}\n`);
      entries.push(MANIFEST_ENVELOPE_PATH);
    }
    // portable: no uid/gid/user names; files only, so the reader never meets a directory entry.
    await writeOutput(
      options.output,
      (file) => createTar({ gzip: true, file, cwd: staging, portable: true }, [...entries, ...paths]),
      {
        flag: '--output',
        inputs: [options.functionMap, options.report, options.signKey, ...options.observations],
      },
    );
    return manifest;
  } catch (error) {
    if (error instanceof InputError) throw error;
    const code = (error as NodeJS.ErrnoException).code;
    throw new InputError(`cannot write bundle ${options.output}: ${code ?? (error as Error).message}`, {
      cause: error,
    });
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
}
