// SPDX-License-Identifier: Apache-2.0
// Minimal typings for pg-copy-streams 7 (the package ships none): the two streams the store uses.
declare module 'pg-copy-streams' {
  import type { Readable, Writable } from 'node:stream';
  import type { Submittable } from 'pg';
  export function from(text: string): Writable & Submittable & { rowCount?: number };
  export function to(text: string): Readable & Submittable & { rowCount?: number };
}
