// SPDX-License-Identifier: Apache-2.0
/** The plugin's compiled object speaks the installed SDK's kernel ABI (BTF against layout and names). */
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { checkObjectAbi } from '@stella/sdk/abi-check';
import { buildPackageObjects } from '@stella/sdk/build';
import { describe, expect, it } from 'vitest';

const packageDir = fileURLToPath(new URL('..', import.meta.url));
const tools = ['clang', 'bpftool'].every((tool) => {
  try {
    execFileSync('sh', ['-c', `command -v ${tool}`]);
    return true;
  } catch {
    return false;
  }
});

describe.skipIf(!tools)('auth_calls.bpf.o', () => {
  it('matches the SDK ABI', () => {
    const [object] = buildPackageObjects(packageDir);
    expect(object).toMatch(/auth_calls\.bpf\.o$/);
    expect(checkObjectAbi(object!).problems).toEqual([]);
  });
});
