// SPDX-License-Identifier: Apache-2.0
/**
 * Executables on overlayfs, as in every container image: /usr is mounted again as an overlay
 * (lower: this machine's /usr, upper: a tmpfs, so the layers are on different filesystems and
 * stat(2) reports a pseudo device the kernel's exec path never sees). pamtester runs from the
 * overlay with libpam loaded from the overlay too; the agent targets it by that executable path
 * and must see every call.
 */
import { execFile, spawn } from 'node:child_process';
import { mkdir, rm, statfs, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kernelExecutableIdentity, userDevToKernelDev } from '../../../core/src/agent/exe-identity.js';
import { canBpf, hits, startAgent, tempDir, uprobeRefusal } from './support.js';

const run = promisify(execFile);
const PAM_PURL = 'pkg:deb/debian/libpam0g@1.5.2-6?arch=amd64';
const USER = `stellaovl${process.pid}`;
const PASSWORD = 'S3cret-pw-overlay';
const PAM_SERVICE = `stella-overlay-${process.pid}`;

describe.skipIf(!canBpf || uprobeRefusal !== undefined)('targets on an overlayfs root', () => {
  let dir: string;
  let usr: string;

  beforeAll(async () => {
    dir = await tempDir('stella-overlay-');
    usr = join(dir, 'usr');
    await mkdir(join(dir, 'layer'));
    await mkdir(usr);
    await run('mount', ['-t', 'tmpfs', 'stella-upper', join(dir, 'layer')]);
    await mkdir(join(dir, 'layer', 'upper'));
    await mkdir(join(dir, 'layer', 'work'));
    const layers = `lowerdir=/usr,upperdir=${dir}/layer/upper,workdir=${dir}/layer/work`;
    await run('mount', ['-t', 'overlay', 'stella-overlay', '-o', layers, usr]);
    await run('useradd', ['-M', '-s', '/usr/sbin/nologin', USER]);
    await new Promise<void>((resolve, reject) => {
      const child = spawn('chpasswd', [], { stdio: ['pipe', 'ignore', 'inherit'] });
      child.stdin.end(`${USER}:${PASSWORD}\n`);
      child.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`chpasswd exited ${code}`))));
    });
    await writeFile(`/etc/pam.d/${PAM_SERVICE}`, 'auth required pam_unix.so\naccount required pam_unix.so\n');
  });
  afterAll(async () => {
    await rm(`/etc/pam.d/${PAM_SERVICE}`, { force: true });
    await run('userdel', [USER]).catch(() => undefined);
    await run('umount', [usr]).catch(() => undefined);
    await run('umount', [join(dir, 'layer')]).catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  });

  it("stat's device of an overlay file is not the overlay superblock's, which exec sees", async () => {
    const pamtester = join(usr, 'bin', 'pamtester');
    expect((await statfs(pamtester)).type).toBe(0x794c7630);
    const { statSync } = await import('node:fs');
    const statDev = userDevToKernelDev(statSync(pamtester, { bigint: true }).dev);
    const identity = kernelExecutableIdentity(pamtester);
    expect(identity.kernelDev).not.toBe(statDev);
    expect(identity.inode).toBe(statSync('/usr/bin/pamtester', { bigint: true }).ino);
  });

  it('claims pamtester run from the overlay by its executable and counts every pam_authenticate', async () => {
    const libdir = join(usr, 'lib', 'x86_64-linux-gnu');
    const agent = await startAgent({
      service: 'overlay-login',
      calls: [
        {
          function: 'auth/pam_authenticate',
          library: 'libpam.so.0',
          binaryPath: join(libdir, 'libpam.so.0'),
          purl: PAM_PURL,
        },
      ],
      targets: [`{service: overlay-login, executables: [${join(usr, 'bin', 'pamtester')}]}`],
    });
    expect(agent.status('auth/pam_authenticate')).toMatchObject({ state: 'attached' });
    for (let i = 0; i < 3; i++) {
      await new Promise<void>((resolve, reject) => {
        const child = spawn(join(usr, 'bin', 'pamtester'), [PAM_SERVICE, USER, 'authenticate'], {
          stdio: ['pipe', 'ignore', 'inherit'],
          env: { ...process.env, LD_LIBRARY_PATH: libdir },
        });
        child.stdin.end(`${PASSWORD}\n`);
        child.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`pamtester exited ${code}`))));
      });
    }
    await sleep(600);
    const observations = await agent.stop();
    expect(hits(observations, 'auth/pam_authenticate')).toBe(3);
    expect(observations.every((o) => o.comm === 'pamtester')).toBe(true);
  });
});
