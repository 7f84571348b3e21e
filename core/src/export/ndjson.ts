// SPDX-License-Identifier: Apache-2.0
/**
 * NDJSON export of observations under `export.output_path` (file names and line format:
 * ndjson/contract.ts).
 *
 * Crash safety: append-only segments whose completed form is renamed.
 *  - Lines are appended to a hidden in-progress segment `.observations-<node>-<start>-<seq>.ndjson.partial`,
 *    one write + fdatasync per flush (every `flushIntervalMs`).
 *  - On rotation (size, time, close) the segment is renamed to `observations-…ndjson` (then gzipped
 *    to `…ndjson.gz` via a temporary name and a rename). Readers take only `*.ndjson` and
 *    `*.ndjson.gz`: every such file is whole, because rename(2) is atomic.
 *  - After SIGKILL (or a power cut) the in-progress segment may end in a half line. At the next
 *    start the exporter cuts it back to its last newline and promotes it, so what was flushed
 *    survives and nothing is corrupt: at most the last unflushed interval is lost.
 * Why not rewrite the whole file to a temporary name on every flush: that copies the segment each
 * interval (O(size²) over its life); appending is O(data) and the rename gives the same guarantee.
 * Between a gzip's rename and the removal of its `.ndjson` a reader may see both; readers prefer the
 * `.gz` when both exist (the two hold the same lines).
 */
import { createReadStream, createWriteStream, promises as fs } from 'node:fs';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import type { Logger, Observation } from '@stella/sdk';
import {
  completedNameOf,
  gzipTempNameOf,
  isCompletedSegmentOf,
  isGzipTempOf,
  isLiveSegmentOf,
  liveNameOf,
  observationLine,
  segmentName,
  segmentStem,
} from '../ndjson/contract.js';

export interface NdjsonExporterOptions {
  /** Directory the files go into; created when missing. */
  outputPath: string;
  /** How often buffered lines are written and synced (ms). */
  flushIntervalMs: number;
  /** Start a new file once the current one reaches this size. Default 64 MiB. */
  rotateBytes?: number;
  /** Start a new file once the current one is this old (ms). Default 1 hour. */
  rotateIntervalMs?: number;
  /** gzip completed files. Default true (docs/OPERATIONS.md "Limits and tuning": storage). */
  compressRotated?: boolean;
  /** Delete completed files whose newest line is older than this. 0 = keep. Default 72. */
  retentionHours?: number;
  /** Goes into file names, so agents sharing a directory never touch each other's files. */
  nodeName: string;
  logger: Logger;
  /** Lines held in memory at most while the disk refuses writes; beyond it lines are dropped and counted. Default 16 MiB. */
  maxBufferedBytes?: number;
  /** Told about every line dropped (for `observations_dropped{reason}`): a drop is never silent. */
  onDrop?: (count: number) => void;
  now?: () => number;
}

export interface NdjsonExporterStats {
  /** Lines durably written (fdatasync returned). */
  written: number;
  /** Lines dropped because the buffer bound was reached while writes failed. */
  dropped: number;
  bufferedLines: number;
  bufferedBytes: number;
  filesCompleted: number;
  writeErrors: number;
}

export class NdjsonExporter {
  private readonly o: Required<Omit<NdjsonExporterOptions, 'logger' | 'onDrop'>>;
  private readonly onDrop: ((count: number) => void) | undefined;
  private readonly logger: Logger;
  private readonly fileStem: string;
  private buffer: string[] = [];
  private bufferedBytes = 0;
  private segment?: { handle: fs.FileHandle; path: string; finalPath: string; size: number; openedAt: number };
  private seq = 0;
  private chain: Promise<void> = Promise.resolve();
  private timer?: NodeJS.Timeout;
  private started?: Promise<void>;
  private closed = false;
  private readonly background = new Set<Promise<void>>();
  private readonly counters = { written: 0, dropped: 0, filesCompleted: 0, writeErrors: 0 };
  /** Set by a failed write, cleared by the next good one; the buffer bound applies only then. */
  private writeFailing = false;

  constructor(options: NdjsonExporterOptions) {
    if (!options.outputPath) throw new TypeError('NdjsonExporter: outputPath is required');
    if (!(options.flushIntervalMs > 0)) throw new TypeError('NdjsonExporter: flushIntervalMs must be > 0');
    this.logger = options.logger;
    this.onDrop = options.onDrop;
    this.o = {
      outputPath: options.outputPath,
      flushIntervalMs: options.flushIntervalMs,
      rotateBytes: options.rotateBytes ?? 64 * 1024 * 1024,
      rotateIntervalMs: options.rotateIntervalMs ?? 3_600_000,
      compressRotated: options.compressRotated ?? true,
      retentionHours: options.retentionHours ?? 72,
      nodeName: options.nodeName,
      maxBufferedBytes: options.maxBufferedBytes ?? 16 * 1024 * 1024,
      now: options.now ?? Date.now,
    };
    this.fileStem = segmentStem(options.nodeName);
    this.timer = setInterval(() => {
      this.flush().catch(() => {}); // failures are logged and counted inside flush
    }, this.o.flushIntervalMs);
    this.timer.unref();
  }

  /** Buffers a batch; never blocks and never throws for I/O (that happens at flush). */
  write(batch: Observation[]): void {
    if (this.closed) throw new Error('NdjsonExporter: write after close');
    // The bound holds only while the disk refuses writes: otherwise what is buffered is at most one
    // flush interval of the agent's pipeline, which its own buffer budget already bounds.
    let dropped = 0;
    for (const obs of batch) {
      const line = observationLine(obs);
      if (this.writeFailing && this.bufferedBytes + line.length > this.o.maxBufferedBytes) {
        dropped++;
        continue;
      }
      this.buffer.push(line);
      this.bufferedBytes += line.length;
    }
    this.countDropped(dropped);
  }

  /** Drops the oldest buffered lines beyond the outage bound, counting and reporting them. */
  private keepWithinBound(): void {
    let dropped = 0;
    while (this.bufferedBytes > this.o.maxBufferedBytes && this.buffer.length > 0) {
      this.bufferedBytes -= this.buffer.shift()!.length;
      dropped++;
    }
    this.countDropped(dropped);
  }

  private countDropped(count: number): void {
    if (count <= 0) return;
    this.counters.dropped += count;
    this.onDrop?.(count);
  }

  /** Writes and syncs everything buffered; rotates when due. Serialised with other flushes. */
  flush(): Promise<void> {
    const run = this.chain.then(() => this.flushNow());
    this.chain = run.catch(() => {});
    return run;
  }

  /** Flushes, completes (renames, compresses) the current segment, stops the timer. */
  async close(): Promise<void> {
    if (this.closed) return this.chain;
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    await this.flush();
    const done = this.chain.then(() => this.completeSegment());
    this.chain = done.catch(() => {});
    await done;
    await Promise.all([...this.background]);
  }

  /** Path of the in-progress segment (hidden `.partial` name), or '' before the first write. */
  currentFile(): string {
    return this.segment?.path ?? '';
  }

  stats(): NdjsonExporterStats {
    return { ...this.counters, bufferedLines: this.buffer.length, bufferedBytes: this.bufferedBytes };
  }

  /** Completed files of this node, oldest first (`.ndjson` and `.ndjson.gz`). */
  async completedFiles(): Promise<string[]> {
    const names = await fs.readdir(this.o.outputPath).catch(() => [] as string[]);
    return names
      .filter((n) => isCompletedSegmentOf(n, this.fileStem))
      .sort()
      .map((n) => path.join(this.o.outputPath, n));
  }

  private start(): Promise<void> {
    this.started ??= this.recover();
    return this.started;
  }

  /** Promotes in-progress segments a killed predecessor left, finishes interrupted gzips, applies retention. */
  private async recover(): Promise<void> {
    await fs.mkdir(this.o.outputPath, { recursive: true });
    const names = await fs.readdir(this.o.outputPath);
    for (const name of names) {
      const full = path.join(this.o.outputPath, name);
      if (isLiveSegmentOf(name, this.fileStem)) {
        await this.promotePartial(full, path.join(this.o.outputPath, completedNameOf(name)));
      } else if (isGzipTempOf(name, this.fileStem)) {
        await fs.rm(full, { force: true }); // an interrupted gzip; its source is still there
      }
    }
    for (const file of await this.completedFiles()) {
      if (file.endsWith('.ndjson') && names.includes(`${path.basename(file)}.gz`)) await fs.rm(file, { force: true });
      else if (file.endsWith('.ndjson') && this.o.compressRotated) this.inBackground(this.compress(file));
    }
    await this.applyRetention();
  }

  private async promotePartial(partial: string, finalPath: string): Promise<void> {
    const data = await fs.readFile(partial);
    const end = data.lastIndexOf(0x0a) + 1; // keep whole lines only
    if (end === 0) {
      await fs.rm(partial, { force: true });
      return;
    }
    if (end < data.length) {
      await fs.truncate(partial, end);
      this.logger.warn('export: cut a half-written line from an interrupted file', {
        file: finalPath,
        droppedBytes: data.length - end,
      });
    }
    await fs.rename(partial, finalPath);
    await syncDir(this.o.outputPath);
  }

  private async flushNow(): Promise<void> {
    try {
      await this.start();
    } catch (error) {
      // The output directory cannot be made or read: the same outage as a failed write.
      this.counters.writeErrors++;
      this.writeFailing = true;
      this.keepWithinBound();
      throw error;
    }
    if (this.buffer.length > 0) {
      const lines = this.buffer;
      const bytes = this.bufferedBytes;
      this.buffer = [];
      this.bufferedBytes = 0;
      try {
        const seg = await this.openSegment();
        const data = Buffer.from(lines.join(''), 'utf8');
        try {
          // A nearly full disk takes part of a write and says so only by the count (no error):
          // write the rest, so the next call meets ENOSPC instead of a torn line counted as written.
          for (let done = 0; done < data.length; ) {
            const { bytesWritten } = await seg.handle.write(data, done, data.length - done, seg.size + done);
            if (bytesWritten === 0) throw Object.assign(new Error('no space left on device'), { code: 'ENOSPC' });
            done += bytesWritten;
          }
          await seg.handle.datasync();
        } catch (error) {
          // Leave no half line behind (ENOSPC mid-write): cut back to the last good size.
          await seg.handle.truncate(seg.size).catch(() => {});
          throw error;
        }
        seg.size += data.length;
        this.counters.written += lines.length;
        this.writeFailing = false;
        // The acknowledgement docs/OPERATIONS.md "What survives a crash" promises: these lines are
        // on disk now and survive a SIGKILL or power cut. stderr is a pipe or file, written
        // synchronously, so the line is out before a kill can land after it.
        this.logger.debug('export: synced', { lines: lines.length, written: this.counters.written });
      } catch (error) {
        this.counters.writeErrors++;
        this.writeFailing = true;
        // Keep the lines for the next flush, within the bound.
        this.buffer = lines.concat(this.buffer);
        this.bufferedBytes += bytes;
        this.keepWithinBound();
        this.logger.error('export: writing observations failed; will retry', { dir: this.o.outputPath, error });
        throw error;
      }
    }
    const seg = this.segment;
    if (seg && (seg.size >= this.o.rotateBytes || this.o.now() - seg.openedAt >= this.o.rotateIntervalMs)) {
      await this.completeSegment();
    }
  }

  private async openSegment(): Promise<NonNullable<NdjsonExporter['segment']>> {
    if (this.segment) return this.segment;
    const now = this.o.now();
    const name = segmentName(this.fileStem, now, this.seq++, process.pid);
    const finalPath = path.join(this.o.outputPath, name);
    const partialPath = path.join(this.o.outputPath, liveNameOf(name));
    const handle = await fs.open(partialPath, 'wx');
    await syncDir(this.o.outputPath); // the new name itself must survive a crash
    this.segment = { handle, path: partialPath, finalPath, size: 0, openedAt: now };
    return this.segment;
  }

  private async completeSegment(): Promise<void> {
    const seg = this.segment;
    if (!seg) return;
    this.segment = undefined;
    await seg.handle.close();
    if (seg.size === 0) {
      await fs.rm(seg.path, { force: true });
      return;
    }
    await fs.rename(seg.path, seg.finalPath);
    await syncDir(this.o.outputPath);
    this.counters.filesCompleted++;
    if (this.o.compressRotated) this.inBackground(this.compress(seg.finalPath));
    this.inBackground(this.applyRetention());
  }

  private inBackground(task: Promise<void>): void {
    const p = task.catch((error) => this.logger.warn('export: background file task failed', { error }));
    this.background.add(p);
    void p.finally(() => this.background.delete(p));
  }

  /** `x.ndjson` → `.x.ndjson.gz.tmp` → fsync → rename `x.ndjson.gz` → unlink `x.ndjson`. */
  private async compress(file: string): Promise<void> {
    const gz = `${file}.gz`;
    const tmp = path.join(path.dirname(file), gzipTempNameOf(path.basename(file)));
    await pipeline(createReadStream(file), createGzip(), createWriteStream(tmp, { flags: 'w' }));
    const h = await fs.open(tmp, 'r+');
    try {
      await h.sync();
    } finally {
      await h.close();
    }
    await fs.rename(tmp, gz);
    await syncDir(path.dirname(file));
    await fs.rm(file, { force: true });
  }

  private async applyRetention(): Promise<void> {
    if (!(this.o.retentionHours > 0)) return;
    const cutoff = this.o.now() - this.o.retentionHours * 3_600_000;
    for (const file of await this.completedFiles()) {
      const st = await fs.stat(file).catch(() => undefined);
      // mtime = when the newest line was written: the whole file is past retention.
      if (st && st.mtimeMs < cutoff) {
        await fs.rm(file, { force: true });
        this.logger.info('export: removed file past retention', { file, retentionHours: this.o.retentionHours });
      }
    }
  }
}

async function syncDir(dir: string): Promise<void> {
  const h = await fs.open(dir, 'r');
  try {
    await h.sync();
  } finally {
    await h.close();
  }
}
