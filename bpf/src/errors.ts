// SPDX-License-Identifier: Apache-2.0
import { constants } from 'node:os';
import { missingCapabilityHint } from './capabilities.js';

const errnoNames = new Map<number, string>(Object.entries(constants.errno).map(([name, value]) => [value, name]));

/**
 * A failed libbpf/kernel operation. The message is one sentence:
 * "failed to <verb> <object>: <strerror> (<ERRNO name>)".
 */
export class BpfError extends Error {
  override readonly name = 'BpfError';
  /** Positive errno, e.g. 2. */
  readonly errno: number;
  /** Errno name, e.g. `ENOENT`. */
  readonly code: string;
  /** What was tried, e.g. `attach`. */
  readonly verb: string;
  /** What it was tried on, e.g. `kprobe do_sys_openat2`. */
  readonly object: string;
  /** libbpf's own warnings for the failing call (the verifier log on load failures), if any. */
  readonly libbpfLog?: string;

  constructor(init: {
    errno: number;
    verb: string;
    object: string;
    code?: string;
    message?: string;
    libbpfLog?: string;
  }) {
    const code = init.code ?? errnoNames.get(init.errno) ?? `E${init.errno}`;
    super(init.message ?? `failed to ${init.verb} ${init.object}: ${errnoText(init.errno)} (${code})`);
    this.errno = init.errno;
    this.code = code;
    this.verb = init.verb;
    this.object = init.object;
    if (init.libbpfLog) this.libbpfLog = init.libbpfLog;
  }
}

// The few errnos the TypeScript side raises itself; the addon uses strerror() for the rest.
const errnoTexts: Record<number, string> = {
  [constants.errno.ENOENT]: 'No such file or directory',
  [constants.errno.EINVAL]: 'Invalid argument',
  [constants.errno.ERANGE]: 'Numerical result out of range',
  [constants.errno.EBADF]: 'Bad file descriptor',
  [constants.errno.EBUSY]: 'Device or resource busy',
};

function errnoText(errno: number): string {
  return errnoTexts[errno] ?? `errno ${errno}`;
}

/** Converts an error thrown by the addon into a BpfError; anything else is rethrown as is. */
export function rethrowNative(error: unknown): never {
  if (error instanceof Error && typeof (error as { errno?: unknown }).errno === 'number' && 'verb' in error) {
    const e = error as Error & { errno: number; code: string; verb: string; object: string; libbpfLog?: string };
    const hint = missingCapabilityHint(e.verb, e.object, e.errno);
    throw new BpfError({
      errno: e.errno,
      code: e.code,
      verb: e.verb,
      object: e.object,
      message: hint ? `${e.message}; ${hint}` : e.message,
      ...(e.libbpfLog ? { libbpfLog: e.libbpfLog } : {}),
    });
  }
  throw error;
}

/** The native addon binary is missing or cannot be loaded. */
export class AddonNotFoundError extends Error {
  override readonly name = 'AddonNotFoundError';
  constructor(
    readonly tried: string[],
    readonly buildCommand: string,
    readonly causes: string[] = [],
  ) {
    super(
      `The @stella/bpf native addon could not be loaded (tried ${tried.join(', ')}${
        causes.length > 0 ? `; ${causes.join('; ')}` : ''
      }): build it with \`${buildCommand}\`.`,
    );
  }
}
