// SPDX-License-Identifier: Apache-2.0
/**
 * The vocabulary of a function map (mechanisms, categories, priorities) and the catalogue a probe
 * plugin ships: which libraries carry which security-relevant functions (read by `generate`).
 */

import type { ArgumentRead } from '../abi.js';

/** Kernel attach mechanisms, in the vocabulary of the function map's `probeTypes`. */
export type ProbeType = 'uprobe' | 'uretprobe' | 'kprobe' | 'kretprobe' | 'fentry' | 'tracepoint' | 'raw_tracepoint';

/** Built-in categories; plugins may add more. A function id is `category/symbol`. */
export type Category = 'crypto' | 'tls' | 'auth' | 'net' | 'file' | (string & {});

/** Path priority, highest first: crypto > auth > net > general. */
export type Priority = 'crypto' | 'auth' | 'net' | 'general';

/** Matches SBOM components by purl. All given fields must match (case-insensitive globs). */
export interface ComponentMatcher {
  /** purl type, e.g. `deb`, `apk`, `rpm`, `generic`, `npm`. Omit for any. */
  purlType?: string | string[];
  /** purl name globs, e.g. `libssl*`, `openssl`, `openssl-libs`. */
  name: string | string[];
  /** purl namespace globs (e.g. `debian`, `alpine`); omit for any. */
  namespace?: string | string[];
}

export interface CatalogueFunction {
  symbol: string;
  category: Category;
  /** Tags for per-tag rates; defaults to `[category]`. */
  tags?: string[];
  priority?: Priority;
  /** Optional calls never count against the observation rate (e.g. SSL_read: hot, noisy). */
  optional?: boolean;
  /** Preferred mechanisms, best first. Defaults to `['uprobe']`. */
  probeTypes?: ProbeType[];
  /**
   * Called per record or block (SSL_read, EVP_DigestUpdate): probed only when a map declares it,
   * never merely to catch undeclared calls, since every call pays the uprobe trap (docs/KERNEL.md §2).
   */
  hot?: boolean;
  description?: string;
  /** Which algorithm each call runs, when the API says so (the crypto plugin's CBOM). */
  algorithm?: AlgorithmSource;
}

/**
 * How a call's algorithm is known: read at the call (`read`, named by `nameOf`; a value it cannot
 * name, a failed read or a NULL pointer is recorded as `unknown`), or the function is the
 * algorithm (`fixed`, libsodium's `crypto_box_easy`).
 */
export type AlgorithmSource =
  | { read: ArgumentRead; nameOf(value: number): string | undefined }
  | { fixed: string; read?: undefined };

export interface CatalogueLibrary {
  /** Soname or file name to look for, e.g. `libssl.so.3`; for static binaries the path (`/usr/bin/node`). */
  library: string;
  /** Other acceptable sonames (`libssl.so.1.1`). */
  alternatives?: string[];
  /** Absolute path when the library is an executable (node's static OpenSSL). */
  binaryPath?: string;
  /**
   * A function every process calls when it starts using this library (its init function), probed
   * as `canary/<symbol>` and never counted in the observation rate: it tells "the path did not
   * run" from "the probes cannot see this library here" (see `canary.ts`).
   */
  canary?: string;
  functions: CatalogueFunction[];
}

export interface CatalogueEntry {
  /** Human name of what is matched, e.g. "OpenSSL 3 libssl". */
  name: string;
  match: ComponentMatcher;
  libraries: CatalogueLibrary[];
}
