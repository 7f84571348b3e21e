// SPDX-License-Identifier: Apache-2.0
/** The addon against the real kernel: load, attach, events, globals, maps, errors. */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type RingBufferConsumer, StellaAbi } from '@stella/sdk';
import { writeSelfSignedCertificate } from '@stella/sdk/testing';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  aggregateKey,
  BpfError,
  BpfObject,
  CALL_ARG_EVENT_LAYOUT,
  CALL_ARG_EVENT_SIZE,
  EventKind,
  forEachRecord,
  headerCookie,
  headerKind,
  headerPid,
  readAggregates,
  readDropCount,
  readEventHeader,
  StellaGlobals,
  samplingThreshold,
} from '../src/index.js';
import {
  bpfUnavailableReason,
  callTarget,
  ensureBuilt,
  fixtureObject,
  fixtureSymbol,
  sleep,
  Workload,
  waitFor,
} from './helpers.js';

const skipReason = bpfUnavailableReason();
if (skipReason) console.warn(`skipping @stella/bpf addon tests: ${skipReason}`);

interface Collected {
  records: { pid: number; cookie: number; kind: number; length: number }[];
  batches: number;
}

/** A consumer of the object's `stella_events` ring that keeps every record's header. */
function consume(obj: BpfObject): { collected: Collected; consumer: RingBufferConsumer } {
  const collected: Collected = { records: [], batches: 0 };
  return {
    collected,
    consumer: obj.consumeRingBuffer('stella_events', (batch, records) => {
      collected.batches++;
      const seen = forEachRecord(batch, (buf, off, length) => {
        collected.records.push({
          pid: headerPid(buf, off),
          cookie: headerCookie(buf, off),
          kind: headerKind(buf, off),
          length,
        });
      });
      expect(seen).toBe(records);
    }),
  };
}

/** The fixture's call probe on its target function, for `pid` alone, with `cookie`. */
function attachFixture(obj: BpfObject, pid: number, cookie?: bigint) {
  return obj.attachUprobe({
    program: 'stella_uprobe_call',
    binaryPath: callTarget,
    symbol: fixtureSymbol,
    pid,
    cookie,
  });
}

describe.skipIf(skipReason)('@stella/bpf addon on this kernel', () => {
  const open: BpfObject[] = [];
  const workloads: Workload[] = [];
  const openFixture = () => {
    const obj = new BpfObject(fixtureObject);
    open.push(obj);
    return obj;
  };
  const startWorkload = async () => {
    const w = await Workload.start();
    workloads.push(w);
    return w;
  };

  beforeAll(() => ensureBuilt());
  afterEach(async () => {
    for (const obj of open.splice(0)) obj.close();
    for (const w of workloads.splice(0)) await w.end();
  });

  it('lists programs, maps and const volatile globals of the object', () => {
    const obj = openFixture();
    expect(obj.programNames()).toEqual(
      expect.arrayContaining([
        'stella_uprobe_call',
        'stella_uretprobe_call',
        'fixture_sys_enter_getppid',
        'fixture_kprobe_openat2',
      ]),
    );
    expect(obj.mapNames()).toEqual(
      expect.arrayContaining(['stella_events', 'stella_drops', 'stella_target_pids', 'stella_agg', '.rodata', '.bss']),
    );
    expect(obj.globals()).toContainEqual({ name: 'stella_sample_threshold', section: '.rodata', offset: 8, size: 4 });
  });

  it('sees exactly N events, with pid and cookie, for N calls of a uprobed function', async () => {
    const obj = openFixture();
    obj.load();
    const w = await startWorkload();
    const link = attachFixture(obj, w.pid, 7n);
    expect(link.description).toBe(`uprobe ${fixtureSymbol} in ${callTarget} for pid ${w.pid}`);
    const { collected, consumer } = consume(obj);
    const calls = 5000;
    expect(await w.run(`call ${calls}`)).toBe(calls);
    await waitFor(() => collected.records.length >= calls);
    await sleep(50); // anything beyond N would show up now
    await consumer.stop();
    expect(collected.records.length).toBe(calls);
    expect(collected.records.every((r) => r.pid === w.pid && r.cookie === 7 && r.kind === EventKind.call)).toBe(true);
    // The generic program's record: the header and the argument it read (none here: STELLA_ARG_UNREAD).
    expect(collected.records.every((r) => r.length === CALL_ARG_EVENT_SIZE)).toBe(true);
    expect(readDropCount(obj)).toBe(0n);
  });

  it('attaches by file offset when the caller resolved the symbol itself', async () => {
    // The fixture's executable segment has p_vaddr == p_offset, so the symbol value is the offset.
    const nm = execFileSync('nm', [callTarget], { encoding: 'utf8' });
    const offset = Number.parseInt(/^([0-9a-f]+) T stella_fixture_work$/m.exec(nm)![1]!, 16);
    const obj = openFixture();
    obj.load();
    const w = await startWorkload();
    const link = obj.attachUprobe({
      program: 'stella_uprobe_call',
      binaryPath: callTarget,
      offset,
      pid: w.pid,
      cookie: 11n,
    });
    expect(link.description).toBe(`uprobe 0x${offset.toString(16)} in ${callTarget} for pid ${w.pid}`);
    const { collected, consumer } = consume(obj);
    await w.run('call 10');
    await waitFor(() => collected.records.length >= 10);
    await sleep(50);
    await consumer.stop();
    expect(collected.records.map((r) => r.cookie)).toEqual(Array(10).fill(11));
  });

  it('decodes the whole header of a delivered record', async () => {
    const obj = openFixture();
    obj.load();
    const w = await startWorkload();
    obj.attachUprobe({
      program: 'stella_uretprobe_call',
      binaryPath: callTarget,
      symbol: fixtureSymbol,
      pid: w.pid,
      retprobe: true,
      // An index using all 32 bits, and a flag bit above them that is not count-only: the record
      // carries the index alone (uprobe_call.bpf.h strips the flags above STELLA_COOKIE_FLAGS_SHIFT).
      cookie: (1n << 40n) | 0xfffffffen,
    });
    const headers: (ReturnType<typeof readEventHeader> & { arg: number })[] = [];
    const before = process.hrtime.bigint();
    const consumer = obj.consumeRingBuffer('stella_events', (batch) => {
      forEachRecord(batch, (buf, off) =>
        headers.push({ ...readEventHeader(buf, off), arg: buf.readUInt32LE(off + CALL_ARG_EVENT_LAYOUT.arg.offset) }),
      );
    });
    await w.run('call 1');
    await waitFor(() => headers.length >= 1);
    await consumer.stop();
    expect(headers).toHaveLength(1);
    const h = headers[0]!;
    expect(h).toMatchObject({
      cookie: 0xfffffffen,
      pid: w.pid,
      tid: w.pid,
      hitCount: 1,
      kind: EventKind.return,
      size: CALL_ARG_EVENT_SIZE,
      comm: 'call_target',
      arg: StellaAbi.argUnread, // a return probe reads no argument
    });
    expect(h.tsNs > before && h.tsNs < process.hrtime.bigint()).toBe(true);
    expect(h.cgroupId > 0n).toBe(true);
  });

  it('setGlobal before load changes behaviour: sampling 0 emits nothing while aggregated counts stay exact', async () => {
    const obj = openFixture();
    obj.setGlobal(StellaGlobals.sampleThreshold, samplingThreshold(0));
    obj.setGlobal(StellaGlobals.aggregate, true);
    obj.load();
    expect(() => obj.setGlobal(StellaGlobals.aggregate, 0)).toThrow(/failed to set global stella_aggregate/);
    const w = await startWorkload();
    attachFixture(obj, w.pid, 3n);
    const { collected, consumer } = consume(obj);
    const calls = 3000;
    await w.run(`call ${calls}`);
    await sleep(100);
    await consumer.stop();
    expect(collected.records).toHaveLength(0);
    expect(readAggregates(obj)).toEqual([
      { cookie: 3n, pid: w.pid, arg: StellaAbi.argUnread, count: calls, lastTsNs: expect.any(BigInt) },
    ]);
    const perCpu = obj.mapLookupPerCpu('stella_agg', aggregateKey(3n, w.pid));
    expect(perCpu).toHaveLength((await import('../src/native.js')).nativeAddon().numPossibleCpus());
  });

  it('filters targets in the kernel when stella_filter_targets is set', async () => {
    const obj = openFixture();
    obj.setGlobal(StellaGlobals.filterTargets, 1);
    obj.load();
    const w = await startWorkload();
    attachFixture(obj, w.pid, 1n);
    const { collected, consumer } = consume(obj);
    await w.run('call 100'); // not a target yet: nothing
    const key = Buffer.alloc(4);
    key.writeUInt32LE(w.pid);
    obj.mapUpdate('stella_target_pids', key, Buffer.alloc(4));
    await w.run('call 100');
    await waitFor(() => collected.records.length >= 100);
    await sleep(50);
    await consumer.stop();
    expect(collected.records).toHaveLength(100);
    expect(obj.mapKeys('stella_target_pids')).toEqual([key]);
    obj.mapDelete('stella_target_pids', key);
    expect(obj.mapLookup('stella_target_pids', key)).toBeNull();
  });

  it('shares a map between two objects by fd (reuseMap before load): an entry one writes, the other filters by', async () => {
    const owner = openFixture();
    owner.load();
    const user = openFixture();
    user.setGlobal(StellaGlobals.filterTargets, 1);
    user.reuseMap('stella_target_pids', owner.mapFd('stella_target_pids'));
    user.load();
    expect(() => user.reuseMap('stella_target_pids', owner.mapFd('stella_target_pids'))).toThrow(
      'failed to reuse map stella_target_pids (object already loaded)',
    );
    const w = await startWorkload();
    attachFixture(user, w.pid);
    const { collected, consumer } = consume(user);
    await w.run('call 50'); // not a target in the shared map yet: nothing
    const key = Buffer.alloc(4);
    key.writeUInt32LE(w.pid);
    owner.mapUpdate('stella_target_pids', key, Buffer.alloc(4));
    await w.run('call 50');
    await waitFor(() => collected.records.length >= 50);
    await sleep(50);
    await consumer.stop();
    expect(collected.records).toHaveLength(50);
    expect(user.mapKeys('stella_target_pids')).toEqual([key]);
  });

  it('attaches to libssl.so.3 SSL_connect and SSL_do_handshake and sees a real handshake', async () => {
    const libssl = '/usr/lib/x86_64-linux-gnu/libssl.so.3';
    expect(existsSync(libssl), `${libssl} is part of this machine (docs/KERNEL.md §8)`).toBe(true);
    const obj = openFixture();
    obj.load();
    obj.attachUprobe({ program: 'stella_uprobe_call', binaryPath: libssl, symbol: 'SSL_connect', cookie: 101n });
    obj.attachUprobe({ program: 'stella_uprobe_call', binaryPath: libssl, symbol: 'SSL_do_handshake', cookie: 102n });
    const { collected, consumer } = consume(obj);
    const dir = mkdtempSync(join(tmpdir(), 'stella-bpf-tls-'));
    const cleanup: (() => void)[] = [];
    try {
      const { cert, key } = writeSelfSignedCertificate(dir);
      // Not -quiet: s_server then prints "ACCEPT [::]:<port>". curl is the client because it calls
      // SSL_connect/SSL_do_handshake; openssl s_client handshakes inside SSL_write_ex/SSL_read_ex.
      const server = spawn(
        'openssl',
        ['s_server', '-accept', '0', '-naccept', '1', '-www', '-key', key, '-cert', cert],
        {
          stdio: 'pipe',
        },
      );
      cleanup.push(() => server.kill());
      const port = await new Promise<number>((resolvePort, reject) => {
        let out = '';
        server.stdout.on('data', (d) => {
          out += d;
          const m = /ACCEPT (?:\S*:)?(\d+)/.exec(out);
          if (m) resolvePort(Number(m[1]));
        });
        server.on('exit', () => reject(new Error(`s_server exited: ${out}`)));
      });
      const client = spawn('curl', ['-sk', '-o', '/dev/null', `https://localhost:${port}/`], { stdio: 'ignore' });
      const clientPid = client.pid!;
      const clientExit = await new Promise<number | null>((r) => client.once('exit', r));
      expect(clientExit, 'curl against openssl s_server').toBe(0);
      await waitFor(() => collected.records.some((r) => r.pid === clientPid && r.cookie === 102));
      await consumer.stop();
      const fromClient = collected.records.filter((r) => r.pid === clientPid);
      expect(fromClient.filter((r) => r.cookie === 101).length).toBeGreaterThanOrEqual(1);
      expect(fromClient.filter((r) => r.cookie === 102).length).toBeGreaterThanOrEqual(1);
    } finally {
      for (const fn of cleanup) fn();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('kprobe attach fails with a BpfError carrying errno 2 / ENOENT and one sentence', () => {
    const obj = openFixture();
    obj.load();
    let error: unknown;
    try {
      obj.attachKprobe({ program: 'fixture_kprobe_openat2', symbol: 'do_sys_openat2' });
    } catch (e) {
      error = e;
    }
    if (existsSync('/sys/bus/event_source/devices/kprobe/type')) {
      // A kernel with kprobes: then the attach must have worked.
      expect(error).toBeUndefined();
      return;
    }
    expect(error).toBeInstanceOf(BpfError);
    const e = error as BpfError;
    expect(e.errno).toBe(2);
    expect(e.code).toBe('ENOENT');
    expect(e.message).toBe('failed to attach kprobe do_sys_openat2: No such file or directory (ENOENT)');
    expect(e.verb).toBe('attach');
    expect(e.object).toBe('kprobe do_sys_openat2');
  });

  it('a syscall tracepoint attaches and fires once per syscall of the target', async () => {
    const obj = openFixture();
    obj.setGlobal(StellaGlobals.filterTargets, 1);
    obj.load();
    const w = await startWorkload();
    const key = Buffer.alloc(4);
    key.writeUInt32LE(w.pid);
    obj.mapUpdate('stella_target_pids', key, Buffer.alloc(4));
    const link = obj.attachTracepoint({
      program: 'fixture_sys_enter_getppid',
      category: 'syscalls',
      name: 'sys_enter_getppid',
      cookie: 9n,
    });
    const { collected, consumer } = consume(obj);
    await w.run('getppid 250');
    await waitFor(() => collected.records.length >= 250);
    await sleep(50);
    await consumer.stop();
    link.destroy();
    link.destroy(); // idempotent
    expect(collected.records).toHaveLength(250);
    expect(collected.records.every((r) => r.kind === EventKind.syscall && r.cookie === 9 && r.pid === w.pid)).toBe(
      true,
    );
    // The .bss counter, read live through the internal map.
    const bss = obj.mapLookup('.bss', Buffer.alloc(4))!;
    const hits = obj.globals().find((g) => g.name === 'fixture_getppid_hits')!;
    expect(bss.readBigUInt64LE(hits.offset)).toBe(250n);
  });

  it('attaches raw tracepoints and by SEC() definition, and reports attach-auto failures as BpfError', () => {
    const obj = openFixture();
    obj.load();
    obj.attachRawTracepoint({ program: 'fixture_raw_sys_enter', name: 'sys_enter' }).destroy();
    obj.attachAuto('fixture_sys_enter_getppid').destroy();
    if (existsSync('/sys/bus/event_source/devices/kprobe/type')) {
      // A kernel with kprobes attaches it by its SEC() definition like any other program.
      obj.attachAuto('fixture_kprobe_openat2').destroy();
    } else {
      expect(() => obj.attachAuto('fixture_kprobe_openat2')).toThrow(BpfError);
    }
  });

  it('the drop counter counts events the ring buffer had no room for', async () => {
    const obj = openFixture();
    obj.setMaxEntries('stella_events', 4096); // one page: 64 records of 64 bytes
    obj.load();
    const w = await startWorkload();
    attachFixture(obj, w.pid);
    const calls = 1000;
    await w.run(`call ${calls}`); // nobody consumes: the ring fills
    const drops = readDropCount(obj);
    expect(obj.mapLookupPerCpu('stella_drops', Buffer.alloc(4))).toHaveLength(
      (await import('../src/native.js')).nativeAddon().numPossibleCpus(),
    );
    const { collected, consumer } = consume(obj);
    await sleep(100);
    await consumer.stop();
    expect(drops).toBeGreaterThan(0n);
    expect(BigInt(collected.records.length) + drops).toBe(BigInt(calls));
  });

  it('errors name the verb, the object and the errno', () => {
    expect(() => new BpfObject('/nonexistent/x.bpf.o')).toThrow(
      'failed to open BPF object /nonexistent/x.bpf.o: No such file or directory (ENOENT)',
    );
    const obj = openFixture();
    expect(() => obj.setGlobal('no_such_global', 1)).toThrow(/failed to set global no_such_global in .*\(ENOENT\)/);
    expect(() => obj.setGlobal(StellaGlobals.aggregate, 2 ** 40)).toThrow(/\(ERANGE\)/);
    expect(() => obj.attachUprobe({ program: 'nope', binaryPath: callTarget, symbol: fixtureSymbol })).toThrow(
      /failed to find program nope in .*\(ENOENT\)/,
    );
    obj.load();
    expect(() =>
      obj.attachUprobe({ program: 'stella_uprobe_call', binaryPath: callTarget, symbol: 'no_such_function' }),
    ).toThrow(/failed to attach uprobe no_such_function in .*call_target: .*\(E[A-Z]+\)/);
    obj.close();
    obj.close(); // idempotent
    expect(() => obj.mapKeys('stella_agg')).toThrow(/\(EBADF\)/);
  });

  afterAll(async () => {
    for (const w of workloads) await w.end();
  });
});
