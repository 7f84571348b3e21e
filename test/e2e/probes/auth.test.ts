// SPDX-License-Identifier: Apache-2.0
import { execFile, spawn } from 'node:child_process';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { ATTACH_COOKIES_MISSING } from '@stella/bpf';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../../core/src/demo/tls-server.js';
import { bpftraceCount, canBpf, hits, LIBDIR, startAgent, stopDriven, tempDir, uprobeRefusal } from './support.js';

const run = promisify(execFile);
const PAM_PURL = 'pkg:deb/debian/libpam0g@1.5.2-6?arch=amd64';
const LDAP_PURL = 'pkg:deb/debian/libldap-2.5-0@2.5.13?arch=amd64';
const SASL_PURL = 'pkg:deb/debian/libsasl2-2@2.1.28?arch=amd64';
const USER = `stella${process.pid}`;
const PASSWORD = 'S3cret-pw-e2e';
const PAM_SERVICE = `stella-e2e-${process.pid}`;

/** The agent with pam_authenticate in its map, targeting pamtester as the `login` service. */
const startLoginAgent = () =>
  startAgent({
    service: 'login',
    calls: [
      {
        function: 'auth/pam_authenticate',
        library: 'libpam.so.0',
        binaryPath: `${LIBDIR}/libpam.so.0`,
        purl: PAM_PURL,
      },
    ],
    targets: ['{service: login, executables: [/usr/bin/pamtester]}'],
  });

/** pamtester reads the password from stdin when it is not a terminal. */
function pamtester(...ops: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn('pamtester', [PAM_SERVICE, USER, ...ops], { stdio: ['pipe', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d) => {
      err += String(d);
    });
    child.stdin.end(`${PASSWORD}\n`);
    child.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`pamtester exited ${code}: ${err}`))));
  });
}

describe.skipIf(!canBpf || uprobeRefusal !== undefined)('auth plugin on real PAM and LDAP workloads', () => {
  beforeAll(async () => {
    await run('useradd', ['-M', '-s', '/usr/sbin/nologin', USER]);
    await new Promise<void>((resolve, reject) => {
      const child = spawn('chpasswd', [], { stdio: ['pipe', 'ignore', 'inherit'] });
      child.stdin.end(`${USER}:${PASSWORD}\n`);
      child.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`chpasswd exited ${code}`))));
    });
    await writeFile(
      `/etc/pam.d/${PAM_SERVICE}`,
      'auth required pam_unix.so\naccount required pam_unix.so\nsession required pam_unix.so\n',
    );
  });
  afterAll(async () => {
    await stopDriven();
    await rm(`/etc/pam.d/${PAM_SERVICE}`, { force: true });
    await run('userdel', [USER]).catch(() => undefined);
  });

  it('pamtester: exactly one pam_authenticate per run; pam_acct_mgmt, not in the map, is reported as unexpected', async () => {
    const agent = await startLoginAgent();
    expect(agent.status('auth/pam_authenticate')).toMatchObject({ state: 'attached', plugin: '@stella/probes-auth' });
    for (let i = 0; i < 3; i++) await pamtester('authenticate', 'acct_mgmt');
    await sleep(600);
    const [report] = agent.composed.agent.verifyNow();
    const observations = await agent.stop();
    expect(hits(observations, 'auth/pam_authenticate')).toBe(3);
    expect(hits(observations, 'auth/pam_acct_mgmt')).toBe(3);
    expect(report?.observationRate).toBe(1);
    expect(report?.unexpectedSymbols.map((u) => u.function)).toEqual(['auth/pam_acct_mgmt']);
    expect(report?.unexpectedSymbols[0]?.hitCount).toBe(3);
    expect(observations.every((o) => o.comm === 'pamtester')).toBe(true);
  });

  describe('ldapsearch against a local slapd', () => {
    let dir: string;
    let port: number;
    let slapd: ReturnType<typeof spawn>;
    let ldapi: string;
    beforeAll(async () => {
      dir = await tempDir('stella-slapd-');
      await mkdir(join(dir, 'db'));
      port = await freePort();
      ldapi = `ldapi://${encodeURIComponent(join(dir, 'ldapi'))}`;
      await writeFile(
        join(dir, 'slapd.conf'),
        [
          'include /etc/ldap/schema/core.schema',
          'modulepath /usr/lib/ldap',
          'moduleload back_mdb',
          `pidfile ${join(dir, 'slapd.pid')}`,
          'database mdb',
          'suffix "dc=stella,dc=test"',
          'rootdn "cn=admin,dc=stella,dc=test"',
          'rootpw secret',
          `directory ${join(dir, 'db')}`,
          '',
        ].join('\n'),
      );
      slapd = spawn('slapd', ['-f', join(dir, 'slapd.conf'), '-h', `ldap://127.0.0.1:${port}/ ${ldapi}`, '-d', '0'], {
        stdio: 'ignore',
      });
      for (let i = 0; i < 50; i++) {
        const ok = await run('ldapsearch', ['-x', '-H', `ldap://127.0.0.1:${port}`, '-b', '', '-s', 'base']).then(
          () => true,
          () => false,
        );
        if (ok) break;
        await sleep(100);
      }
    });
    afterAll(async () => {
      slapd?.kill('SIGTERM');
      await sleep(200);
      await rm(dir, { recursive: true, force: true });
    });

    it('simple binds: exactly one ldap_sasl_bind each; SASL EXTERNAL binds: sasl_client_start agrees with bpftrace', async () => {
      const agent = await startAgent({
        service: 'directory',
        calls: [
          {
            function: 'auth/ldap_sasl_bind',
            library: 'libldap-2.5.so.0',
            binaryPath: `${LIBDIR}/libldap-2.5.so.0`,
            purl: LDAP_PURL,
          },
          {
            function: 'auth/sasl_client_start',
            library: 'libsasl2.so.2',
            binaryPath: `${LIBDIR}/libsasl2.so.2`,
            purl: SASL_PURL,
          },
        ],
        targets: ['{service: directory, executables: [/usr/bin/ldapsearch]}'],
      });
      const independent = await bpftraceCount(
        [`uprobe:${LIBDIR}/libsasl2.so.2:sasl_client_start`],
        'comm == "ldapsearch"',
      );
      const simple = ['-x', '-H', `ldap://127.0.0.1:${port}`, '-D', 'cn=admin,dc=stella,dc=test', '-w', 'secret'];
      for (let i = 0; i < 4; i++) await run('ldapsearch', [...simple, '-b', '', '-s', 'base']);
      for (let i = 0; i < 2; i++)
        await run('ldapsearch', ['-Q', '-Y', 'EXTERNAL', '-H', ldapi, '-b', '', '-s', 'base']);
      await sleep(300);
      const bpftrace = await independent.stop();
      const observations = await agent.stop();
      // 4 simple binds + 2 SASL binds, each one ldap_sasl_bind (the SASL path sends its bind request through it too).
      expect(hits(observations, 'auth/ldap_sasl_bind')).toBe(6);
      expect(bpftrace).toBeGreaterThanOrEqual(2);
      expect(hits(observations, 'auth/sasl_client_start')).toBe(bpftrace);
    });
  });
});

// Before Linux 5.15 the uprobe plugins refuse (docs/KERNELS.md): the agent still starts and says so
// per call, in the one sentence doctor says too. The kernel matrix runs this on 5.10.
describe('auth plugin on a kernel without attach cookies', () => {
  it('the agent starts and reports pam_authenticate failed, naming bpf_get_attach_cookie', async (ctx) => {
    if (!canBpf || uprobeRefusal === undefined) {
      const why = 'this kernel has attach cookies (or no BPF): the refusal runs on the kernel matrix (5.10)';
      console.warn(`skipping the refusal test: ${why}`);
      return ctx.skip(why);
    }
    const agent = await startLoginAgent();
    try {
      expect(agent.status('auth/pam_authenticate')).toMatchObject({
        state: 'failed',
        plugin: '@stella/probes-auth',
        reason: 'kernel-feature-missing',
        detail: ATTACH_COOKIES_MISSING,
      });
    } finally {
      await agent.stop();
    }
  });
});
