// SPDX-License-Identifier: Apache-2.0
import { mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { gzipSync } from 'node:zlib';
import { c as createTar, x as extractTar, Header } from 'tar';

export interface RawEntry {
  path: string;
  type?: 'File' | 'SymbolicLink' | 'Link' | 'Directory' | 'CharacterDevice' | 'FIFO';
  data?: Buffer | string;
  linkpath?: string;
  /** Header size when it must differ from the data (an oversized claim without the bytes). */
  size?: number;
}

/**
 * Builds a tar.gz block by block with tar's own Header encoder, so tests can make the archives
 * a well-behaved packer refuses to make: "../x", "/etc/x", links, devices, lying sizes.
 */
export async function writeRawTarGz(file: string, entries: RawEntry[]): Promise<void> {
  const blocks: Buffer[] = [];
  for (const entry of entries) {
    const data = entry.data === undefined ? Buffer.alloc(0) : Buffer.from(entry.data);
    const header = new Header({
      path: entry.path,
      type: entry.type ?? 'File',
      size: entry.size ?? (entry.type === undefined || entry.type === 'File' ? data.length : 0),
      mode: entry.type === 'Directory' ? 0o755 : 0o644,
      mtime: new Date(0),
      ...(entry.linkpath !== undefined ? { linkpath: entry.linkpath } : {}),
    });
    header.encode();
    blocks.push(header.block!);
    if (data.length > 0) {
      blocks.push(data, Buffer.alloc((512 - (data.length % 512)) % 512));
    }
  }
  blocks.push(Buffer.alloc(1024));
  await writeFile(file, gzipSync(Buffer.concat(blocks)));
}

async function listFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) out.push(relative(dir, join(entry.parentPath, entry.name)));
  }
  return out.sort();
}

/** Unpacks a (trusted, self-made) bundle, lets `mutate` change the tree, and packs it again. */
export async function repack(bundle: string, workDir: string, output: string, mutate: (dir: string) => Promise<void>) {
  await rm(workDir, { recursive: true, force: true });
  await mkdir(workDir, { recursive: true });
  await extractTar({ file: bundle, cwd: workDir });
  await mutate(workDir);
  await createTar({ gzip: true, file: output, cwd: workDir, portable: true }, await listFiles(workDir));
}
