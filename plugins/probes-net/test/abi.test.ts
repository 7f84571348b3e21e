// SPDX-License-Identifier: Apache-2.0
/** The plugin's compiled object speaks the installed SDK's kernel ABI (BTF against layout and names). */
import { fileURLToPath } from 'node:url';
import { checkObjectAbi } from '@stella/sdk/abi-check';
import { buildPackageObjects } from '@stella/sdk/build';
import { bpfBuildToolsMissing } from '@stella/sdk/testing';
import { describe, expect, it } from 'vitest';

const packageDir = fileURLToPath(new URL('..', import.meta.url));
const toolsMissing = bpfBuildToolsMissing();

describe.skipIf(toolsMissing !== undefined)('net_syscalls.bpf.o', () => {
  it('matches the SDK ABI', () => {
    const [object] = buildPackageObjects(packageDir);
    expect(object).toMatch(/net_syscalls\.bpf\.o$/);
    expect(checkObjectAbi(object!).problems).toEqual([]);
  });
});
