// SPDX-License-Identifier: Apache-2.0
import { writeOutput } from '../output.js';

/**
 * Writes `text` to the `--output` the user named through the one safe writer (core/src/output.ts):
 * temp + fsync + rename + directory fsync for files, devices and FIFOs written in place, `-` for
 * stdout, and an output that is one of `inputs` (or inside an input directory) refused.
 */
export async function writeOutputSafely(
  path: string,
  text: string,
  inputs: readonly (string | undefined)[] = [],
): Promise<void> {
  await writeOutput(path, text, { flag: '--output', inputs });
}
