// SPDX-License-Identifier: Apache-2.0
/**
 * Uprobe placement on this machine's real libssl/libcrypto and on a fixture of hand-written
 * entries (loops back to just after the entry, branches in from elsewhere, taken addresses,
 * relocations, loads, divisions), built with the system cc into a temp dir.
 */
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kernelHandling, UprobePlacer } from '../src/placement/index.js';

const LIB = '/usr/lib/x86_64-linux-gnu';
const FIXTURE = fileURLToPath(new URL('./fixtures/placement/placement-cases.c', import.meta.url));

let dir: string;
let placer: UprobePlacer;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'stella-placement-'));
  execFileSync('cc', ['-shared', '-fPIC', '-o', join(dir, 'libcases.so'), FIXTURE]);
  execFileSync('cc', ['-shared', '-fPIC', '-Wl,-z,pack-relative-relocs', '-o', join(dir, 'libcases-relr.so'), FIXTURE]);
  placer = new UprobePlacer();
});
afterAll(async () => {
  await placer.close();
  rmSync(dir, { recursive: true, force: true });
});

const placeOne = async (path: string, symbol: string) => {
  const [placement] = await placer.place(path, [{ symbol }]);
  if (!placement) throw new Error(`${symbol} not found in ${path}`);
  return placement;
};

describe('placement on Debian 12 libcrypto/libssl (the entries issue 11 names)', () => {
  it('runs on a worker thread (the compiled worker the test set-up builds)', () => {
    expect(placer.usesWorker).toBe(true);
  });

  it.each([
    ['libcrypto.so.3', 'EVP_DigestUpdate', 3, 'entry+3, je, emulated'],
    ['libcrypto.so.3', 'EVP_DigestInit_ex', 5, 'entry+5, jmp, emulated'],
    ['libcrypto.so.3', 'EVP_CipherInit_ex', 6, 'entry+6, call, emulated'],
    ['libssl.so.3', 'SSL_read', 22, 'entry+22, js, emulated'],
    ['libssl.so.3', 'SSL_write', 22, 'entry+22, js, emulated'],
    ['libssl.so.3', 'SSL_do_handshake', 0, 'entry, push, emulated'],
  ])('%s %s → +%i', async (library, symbol, delta, reason) => {
    const placement = await placeOne(join(LIB, library), symbol);
    expect(placement.reason).toBe(reason);
    expect(placement.delta).toBe(delta);
    expect(placement.kind).toBe('emulated');
    // The file offset is the symbol's (nm) plus delta: these libraries map text at offset = vaddr.
    const nm = execFileSync('nm', ['-D', '--defined-only', join(LIB, library)], { encoding: 'utf8' });
    const line = nm.split('\n').find((l) => l.endsWith(` ${symbol}@@OPENSSL_3.0.0`));
    expect(placement.offset).toBe(Number.parseInt(line!.split(' ')[0]!, 16) + delta);
  });

  it('keeps SSL_connect at the entry: its first instruction reads through the SSL pointer', async () => {
    const placement = await placeOne(join(LIB, 'libssl.so.3'), 'SSL_connect');
    expect(placement.kind).toBe('entry');
    expect(placement.delta).toBe(0);
    expect(placement.reason).toMatch(/^entry: cmpq \$0,0x30\(%rdi\) at \+0 reads or writes memory through a pointer/);
  });

  it('says which registers the skipped run writes (a program reading arguments must stay at the entry)', async () => {
    expect((await placeOne(join(LIB, 'libcrypto.so.3'), 'EVP_DigestInit_ex')).registersWritten.sort()).toEqual([
      'rcx',
      'rdx',
    ]);
    expect((await placeOne(join(LIB, 'libcrypto.so.3'), 'EVP_DigestUpdate')).registersWritten).toEqual([]);
  });

  it('answers undefined for a symbol the file does not define, and places by file offset too', async () => {
    const [missing, byOffset] = await placer.place(join(LIB, 'libcrypto.so.3'), [
      { symbol: 'no_such_function' },
      { fileOffset: (await placeOne(join(LIB, 'libcrypto.so.3'), 'EVP_DigestUpdate')).offset - 3 },
    ]);
    expect(missing).toBeUndefined();
    expect(byOffset?.reason).toBe('entry+3, je, emulated');
  });
});

describe.each(['libcases.so', 'libcases-relr.so'])('placement on the fixture (%s)', (library) => {
  const cases: [string, number, string | RegExp][] = [
    ['plain_test_je', 3, 'entry+3, je, emulated'],
    ['loop_to_after_entry', 0, /^entry: \+3 is reached by a direct branch, so moving to \+6 \(je\)/],
    ['entered_from_elsewhere', 0, /^entry: \+3 is reached by a direct branch/],
    ['address_taken_inside', 0, /^entry: \+3 is reached by a %rip-relative lea/],
    ['relocated_inside', 0, /^entry: \+3 is reached by a relocation/],
    ['loads_through_argument', 0, /^entry: mov \(%rdi\),%rax at \+0 reads or writes memory through a pointer/],
    ['divides_first', 0, /^entry: div %rsi at \+5 is not one placement knows to be fault-free/],
    ['canary_prologue', 22, 'entry+22, js, emulated'],
    ['returns_at_once', 0, /^entry: ret at \+3 changes control flow/],
    ['sizeless', 0, 'entry: the symbol has no size, so its end is unknown'],
    ['starts_with_push', 0, 'entry, push, emulated'],
  ];
  it.each(cases)('%s → +%i', async (symbol, delta, reason) => {
    const placement = await placeOne(join(dir, library), symbol);
    expect(placement.delta).toBe(delta);
    if (typeof reason === 'string') expect(placement.reason).toBe(reason);
    else expect(placement.reason).toMatch(reason);
    expect(placement.kind).toBe(delta > 0 || placement.reason.startsWith('entry,') ? 'emulated' : 'entry');
  });
});

describe('placement on other files', () => {
  it('stays at the entry on a non-x86-64 ELF and says so', async () => {
    const arm = join(dir, 'libcases-aarch64.so');
    copyFileSync(join(dir, 'libcases.so'), arm);
    const bytes = readFileSync(arm);
    bytes.writeUInt16LE(183, 0x12); // EM_AARCH64
    writeFileSync(arm, bytes);
    const placement = await placeOne(arm, 'plain_test_je');
    expect(placement).toMatchObject({ kind: 'entry', delta: 0 });
    expect(placement.reason).toMatch(/is not x86-64 \(ELF machine 183\); placement past the entry is x86-64 only/);
  });

  it('rejects a file that is not ELF with its path named, and keeps serving afterwards', async () => {
    const text = join(dir, 'not-elf.so');
    writeFileSync(text, 'just some text, long enough to have a header of sixty-four bytes or more ...');
    await expect(placer.place(text, [{ symbol: 'x' }])).rejects.toThrow(`${text} is not an ELF file (bad magic)`);
    expect((await placeOne(join(dir, 'libcases.so'), 'plain_test_je')).delta).toBe(3);
  });

  it('stops its worker when idle and starts a new one on the next request', async () => {
    let stopped = 0;
    const idle = new UprobePlacer({ idleMs: 50, onWorkerStopped: () => stopped++ });
    const [first] = await idle.place(join(dir, 'libcases.so'), [{ symbol: 'plain_test_je' }]);
    expect(idle.workerRunning).toBe(true);
    await new Promise((r) => setTimeout(r, 300));
    expect(idle.workerRunning).toBe(false);
    // The agent's session hands the worker's freed memory back here.
    expect(stopped).toBe(1);
    const [again] = await idle.place(join(dir, 'libcases.so'), [{ symbol: 'plain_test_je' }]);
    expect(again).toEqual(first);
    await idle.close();
  });

  it('moves past loads through a pointer only when asked (allowFaultingAccess), and says so', async () => {
    const permissive = new UprobePlacer({ allowFaultingAccess: true });
    const [load, division] = await permissive.place(join(dir, 'libcases.so'), [
      { symbol: 'loads_through_argument' },
      { symbol: 'divides_first' },
    ]);
    expect(load?.reason).toBe('entry+3, jmp, emulated, past a possible fault at +0');
    expect(division?.reason).toMatch(/^entry: div %rsi at \+5 is not one placement knows to be fault-free/);
    const [connect] = await permissive.place(join(LIB, 'libssl.so.3'), [{ symbol: 'SSL_connect' }]);
    expect(connect).toMatchObject({ kind: 'emulated' });
    expect(connect?.reason).toMatch(/^entry\+\d+, j\w+, emulated, past a possible fault at \+0$/);
    await permissive.close();
  });

  it('decodes in-process when asked, with the same answers', async () => {
    const local = new UprobePlacer({ inProcess: true });
    expect(local.usesWorker).toBe(false);
    const [placement] = await local.place(join(LIB, 'libcrypto.so.3'), [{ symbol: 'EVP_CipherInit_ex' }]);
    expect(placement?.reason).toBe('entry+6, call, emulated');
    await local.close();
  });
});

describe('kernelHandling (arch/x86/kernel/uprobes.c, 6.x)', () => {
  it.each([
    ['53', 'emulated'], // push %rbx
    ['4157', 'emulated'], // push %r15
    ['4857', 'single-stepped'], // REX.W push: not the one REX form the kernel takes
    ['6a00', 'single-stepped'], // push $0
    ['7410', 'emulated'], // je rel8
    ['0f8410000000', 'emulated'], // je rel32
    ['eb10', 'emulated'], // jmp rel8
    ['e910000000', 'emulated'], // jmp rel32
    ['e810000000', 'emulated'], // call rel32
    ['66e81000', 'refused'], // callw: the kernel refuses a 66 prefix on a branch
    ['90', 'emulated'], // nop
    ['6690', 'emulated'], // xchg %ax,%ax
    ['f390', 'single-stepped'], // pause
    ['0f1f440000', 'emulated'], // nopl 0x0(%rax,%rax,1): 6.18 turns it into a trampoline call
    ['662e0f1f840000000000', 'refused'], // cs nopw: cs prefix
    ['f30f1efa', 'single-stepped'], // endbr64
    ['4885d2', 'single-stepped'], // test %rdx,%rdx
    ['c3', 'single-stepped'], // ret
    ['ffe0', 'single-stepped'], // jmp *%rax
    ['e210', 'single-stepped'], // loop
    ['f0ff07', 'refused'], // lock incl (%rdi)
  ])('%s → %s', (hex, handling) => {
    expect(kernelHandling(Buffer.from(hex, 'hex'))).toBe(handling);
  });
});
