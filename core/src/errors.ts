// SPDX-License-Identifier: Apache-2.0
/**
 * The few error classes the CLI maps to exit codes in one top-level catch (cli/main.ts).
 * Messages are one sentence naming the file, field or line and what was expected.
 */
export class StellaError extends Error {
  readonly exitCode: number = 1;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** Bad input: malformed file, flag, config, signature. Exit code 2. */
export class InputError extends StellaError {
  override readonly exitCode = 2;
}

/** A configuration that failed validation; `problems` lists every one with its key path. */
export class ConfigError extends InputError {
  constructor(
    readonly source: string,
    readonly problems: { path: string; message: string }[],
  ) {
    super(
      `invalid configuration in ${source}: ${problems.length} problem${problems.length === 1 ? '' : 's'}\n` +
        problems.map((p) => `  - ${p.path}: ${p.message}`).join('\n'),
    );
  }
}

/** The check ran and the answer is "no" (verification failed, signature mismatch). Exit code 1. */
export class VerificationFailedError extends StellaError {
  override readonly exitCode = 1;
}

/** A backend (store, exporter) is unreachable. Exit code 3 when it ends a command. */
export class UnavailableError extends StellaError {
  override readonly exitCode = 3;
}

export function exitCodeOf(error: unknown): number {
  return error instanceof StellaError ? error.exitCode : 70; // 70 = EX_SOFTWARE: a bug, not bad input
}
