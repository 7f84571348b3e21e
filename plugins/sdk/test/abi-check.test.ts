// SPDX-License-Identifier: Apache-2.0
/**
 * The ABI check on objects built from this SDK's headers: a clean object has no problem, and an
 * object built from headers that drifted (a field moved, a kind renumbered) is reported field by
 * field. Needs clang and bpftool (build tools), no root.
 */
import { execFileSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { buildBpfObject, includeDir } from '../scripts/build-bpf.mjs';
import { checkObjectAbi } from '../src/abi-check.js';
import { bpfBuildToolsMissing } from '../src/testing.js';

const toolsMissing = bpfBuildToolsMissing();

const dir = mkdtempSync(join(tmpdir(), 'stella-abi-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function build(name: string, include = includeDir): string {
  const source = join(dir, `${name}.bpf.c`);
  writeFileSync(
    source,
    `// SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0-only)\n#include "stella/uprobe_call.bpf.h"\nchar LICENSE[] SEC("license") = "GPL";\n`,
  );
  const output = join(dir, `${name}.bpf.o`);
  if (include === includeDir) buildBpfObject(source, { output });
  else {
    // A plugin built against someone else's copy of the headers.
    const vmlinux = join(includeDir, '..', 'vmlinux');
    execFileSync('clang', [
      '-O2',
      '-g',
      '-target',
      'bpf',
      '-D__TARGET_ARCH_x86',
      '-I',
      include,
      '-I',
      vmlinux,
      '-c',
      source,
      '-o',
      output,
    ]);
  }
  return output;
}

describe.skipIf(toolsMissing !== undefined)('ABI check against BTF', () => {
  it('finds nothing wrong in an object built from these headers', () => {
    expect(checkObjectAbi(build('clean')).problems).toEqual([]);
  });

  it('names each field, kind and map that drifted', () => {
    const drifted = join(dir, 'include');
    cpSync(includeDir, drifted, { recursive: true });
    const event = join(drifted, 'stella', 'event.h');
    writeFileSync(
      event,
      readFileSync(event, 'utf8')
        .replace('\t__u32 tid;\n\t__u32 hit_count;', '\t__u32 hit_count;\n\t__u32 tid;')
        .replace('STELLA_EVENT_FILE = 3,', 'STELLA_EVENT_FILE = 5,'),
    );
    const problems = checkObjectAbi(build('drifted', drifted)).problems;
    expect(problems).toEqual([
      'stella_event_header.tid is at offset 32 (4 bytes), the SDK reads offset 28 (4 bytes)',
      'stella_event_header.hit_count is at offset 28 (4 bytes), the SDK reads offset 32 (4 bytes)',
      'STELLA_EVENT_FILE is 5 in the object, 3 in the SDK',
    ]);
  });

  it('says why when the file has no BTF', () => {
    const notAnObject = join(dir, 'empty.o');
    writeFileSync(notAnObject, 'not ELF');
    expect(() => checkObjectAbi(notAnObject)).toThrow(`cannot read the BTF of ${notAnObject}`);
  });
});
