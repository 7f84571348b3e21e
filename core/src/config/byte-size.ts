// SPDX-License-Identifier: Apache-2.0
const UNITS: Record<string, number> = { '': 1, b: 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 };

/**
 * `67108864`, `"64MiB"`, `"64MB"`, `"64M"`, `"512 KiB"` → bytes. K/M/G/T are powers of 1024 whether
 * written `MB` or `MiB`: an operator's "64MB buffer" means the 64 MiB default. Undefined when not a size.
 */
export function parseByteSize(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isSafeInteger(value) && value >= 0 ? value : undefined;
  if (typeof value !== 'string') return undefined;
  const match = /^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(i?b?)\s*$/i.exec(value);
  if (!match) return undefined;
  const [, amount, unit = '', suffix = ''] = match;
  if (!unit && /^i/i.test(suffix)) return undefined; // "5ib"
  const bytes = Math.floor(Number(amount) * UNITS[unit.toLowerCase() || (suffix ? 'b' : '')]!);
  return Number.isSafeInteger(bytes) ? bytes : undefined;
}
