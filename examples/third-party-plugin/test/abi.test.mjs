// SPDX-License-Identifier: Apache-2.0
/**
 * The plugin's object speaks the kernel ABI of the @stella/sdk it is installed with: struct
 * layouts, record kinds, map and global names, read from the object's BTF. Run after
 * `npm run build:bpf` with `npm test` (node's own test runner: no other dependency).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { checkObjectAbi } from '@stella/sdk/abi-check';

const OBJECT = fileURLToPath(new URL('../bpf/app_calls.bpf.o', import.meta.url));

test('bpf/app_calls.bpf.o matches the installed SDK ABI', () => {
  assert.deepEqual(checkObjectAbi(OBJECT).problems, []);
});
