// SPDX-License-Identifier: Apache-2.0
/**
 * Function Map V1, camelCase wire form (docs/FUNCTION-MAP.md "The contract"). `parseFunctionMap` also reads the
 * snake_case Stella contract and returns this form, with the schema's defaults filled in.
 */
import type { Priority, ProbeType } from '@stella/sdk';

/** The predicate type written by `generate`. */
export const FUNCTION_MAP_PREDICATE_TYPE = 'https://stella.ops/predicates/function-map/v1';
/** The short alias accepted on read. */
export const FUNCTION_MAP_PREDICATE_TYPE_ALIAS = 'stella.ops/functionMap@v1';
export const FUNCTION_MAP_SCHEMA_VERSION = '1.0.0';

export interface FunctionMapSubject {
  purl: string;
  digest: { sha256: string; [algorithm: string]: string };
  name?: string;
}

export interface Coverage {
  /** Share of required paths that must be observed, 0..1 (default 0.95). */
  minObservationRate: number;
  /** Default verification window, seconds (default 1800). */
  windowSeconds: number;
  /** Fail the verdict when any unexpected symbol was observed (default false). */
  failOnUnexpected: boolean;
  /** Per-tag minimum rates, e.g. `{ crypto: 0.99 }`. */
  perTag?: Record<string, number>;
}

/** Where a path starts: the service's own entry (no static analysis) or a call-graph entrypoint. */
export interface PathEntrypoint {
  symbol: string;
  purl?: string;
  nodeHash: string;
}

export interface ExpectedCall {
  /** Function id `category/symbol`, e.g. `tls/SSL_connect`. */
  function: string;
  symbol: string;
  /** Soname or file name, e.g. `libssl.so.3`, `node`. */
  library: string;
  purl: string;
  /** Absolute path of the file that carries the symbol (inside the image/rootfs). */
  binaryPath: string;
  /** GNU build-id (hex) when the file was resolved with `--rootfs`. */
  buildId?: string;
  probeTypes: ProbeType[];
  nodeHash: string;
  /**
   * An optional call is never required. A path whose calls are *all* optional is an any-of group:
   * it is observed when at least one of its calls is (e.g. the TLS handshake entry points).
   */
  optional: boolean;
}

export interface ExpectedPath {
  pathId: string;
  description?: string;
  tags: string[];
  priority: Priority;
  /** Optional paths are reported but never count against the observation rate. */
  optional: boolean;
  entrypoint?: PathEntrypoint;
  expectedCalls: ExpectedCall[];
  pathHash: string;
}

/** How `stella function-map learn` refined a map (`generatedFrom.learning`). */
export interface LearningProvenance {
  /** The learning window, ISO-8601 UTC; `to` exclusive. */
  from: string;
  to: string;
  /** `sha256:` over the observation files' bytes, in the order read. */
  observationsDigest: string;
  /** Records of the map's service inside the window. */
  observationsInWindow: number;
  /** Digest (functionMapDigest) of the map that was refined. */
  baseMapDigest: string;
  /**
   * Set when the agent learned the map (`runtime_agent.learning`): its node name. The digest is then
   * over the window's per-call tallies, since there are no files.
   */
  node?: string;
}

export interface FunctionMapPredicate {
  schemaVersion: string;
  service: string;
  buildId?: string;
  generatedAt?: string;
  /** What the map was made from: an SBOM (generate), observations (learn), or both. */
  generatedFrom?: { sbomRef?: string; sbomDigest?: string; staticAnalysisRef?: string; learning?: LearningProvenance };
  generator?: { name: string; version: string; commit?: string };
  coverage: Coverage;
  hotFunctions?: string[];
  expectedPaths: ExpectedPath[];
}

export interface FunctionMap {
  _type: string;
  subject: FunctionMapSubject;
  predicate: FunctionMapPredicate;
}
