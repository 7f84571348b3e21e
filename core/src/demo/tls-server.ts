// SPDX-License-Identifier: Apache-2.0
import { type ChildProcess, spawn } from 'node:child_process';
import { createConnection, createServer } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { writeSelfSignedCertificate } from '@stella/sdk/testing';

/** A free loopback TCP port (bound, then released). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port')),
      );
    });
  });
}

export async function waitForPort(port: number, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const socket = createConnection({ host: '127.0.0.1', port }, () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`nothing listens on 127.0.0.1:${port} after ${timeoutMs} ms`);
    await sleep(50);
  }
}

export interface TlsServer {
  port: number;
  process: ChildProcess;
  certPath: string;
  stop(): Promise<void>;
}

/** curl's arguments for one request to `server`, trusting its certificate (no `-k`). */
export function curlArgsFor(server: Pick<TlsServer, 'port' | 'certPath'>): string[] {
  return [
    '-sS',
    '-o',
    '/dev/null',
    '--cacert',
    server.certPath,
    '--resolve',
    `localhost:${server.port}:127.0.0.1`,
    `https://localhost:${server.port}/`,
  ];
}

/**
 * `openssl s_server -www` on loopback with a throwaway self-signed P-256 certificate: a real TLS
 * peer through the machine's libssl, no network needed.
 */
export async function startOpensslServer(workdir: string): Promise<TlsServer> {
  const { cert: certPath, key: keyPath } = writeSelfSignedCertificate(workdir);
  const port = await freePort();
  const child = spawn(
    'openssl',
    ['s_server', '-accept', `127.0.0.1:${port}`, '-cert', certPath, '-key', keyPath, '-www', '-quiet'],
    {
      stdio: ['pipe', 'ignore', 'pipe'],
    },
  );
  let stderr = '';
  child.stderr?.on('data', (d) => {
    stderr += String(d);
  });
  try {
    await waitForPort(port);
  } catch (error) {
    child.kill('SIGKILL');
    throw new Error(`openssl s_server did not start: ${stderr.trim() || (error as Error).message}`);
  }
  return {
    port,
    process: child,
    certPath,
    async stop() {
      if (child.exitCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    },
  };
}
