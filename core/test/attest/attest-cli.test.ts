// SPDX-License-Identifier: Apache-2.0
import { createHash, createPublicKey, generateKeyPairSync } from 'node:crypto';
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import nock from 'nock';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { preAuthEncoding } from '../../src/attest/dsse.js';
import { FUNCTION_MAP, REPORT, runCli, withTempDir } from './cli-harness.js';

const FM_TYPE = 'application/vnd.stellaops.function-map.v1+json';
const IN_TOTO = 'application/vnd.in-toto+json';

let dir: string;
let remove: () => Promise<void>;
const p = (name: string) => join(dir, name);

async function keygen(type: 'ed25519' | 'ecdsa-p256', name: string) {
  const result = await runCli('attest', 'keygen', '--type', type, '--out-dir', dir, '--name', name);
  expect(result.code, result.stderr).toBe(0);
  return { key: p(`${name}.key`), pub: p(`${name}.pub`) };
}

async function readEnvelope(file: string) {
  return JSON.parse(await readFile(file, 'utf8')) as {
    payloadType: string;
    payload: string;
    signatures: { keyid: string; sig: string }[];
  };
}

beforeAll(async () => {
  nock.disableNetConnect(); // offline means offline: any HTTP(S) attempt throws
  ({ dir, remove } = await withTempDir());
  await writeFile(p('fm.json'), `${JSON.stringify(FUNCTION_MAP, null, 2)}\n`);
  await writeFile(p('report.json'), JSON.stringify(REPORT));
});
afterAll(async () => {
  nock.enableNetConnect();
  await remove();
});

describe('PAE', () => {
  it('matches the DSSE v1 spec example byte for byte', () => {
    expect(preAuthEncoding('http://example.com/HelloWorld', Buffer.from('hello world')).toString()).toBe(
      'DSSEv1 29 http://example.com/HelloWorld 11 hello world',
    );
  });
  it('counts UTF-8 bytes, not characters', () => {
    expect(preAuthEncoding('t', Buffer.from('é')).toString()).toBe('DSSEv1 1 t 2 é');
  });
});

describe('stella attest keygen', () => {
  it.each(['ed25519', 'ecdsa-p256'] as const)(
    'writes a %s PEM pair, private 0600, keyid = sha256(SPKI DER)',
    async (type) => {
      const result = await runCli('attest', 'keygen', '--type', type, '--out-dir', dir, '--name', `kg-${type}`);
      expect(result.code).toBe(0);
      const privateInfo = await stat(p(`kg-${type}.key`));
      expect(privateInfo.mode & 0o777).toBe(0o600);
      const pubPem = await readFile(p(`kg-${type}.pub`), 'utf8');
      expect(pubPem).toMatch(/^-----BEGIN PUBLIC KEY-----/);
      expect(await readFile(p(`kg-${type}.key`), 'utf8')).toMatch(/^-----BEGIN PRIVATE KEY-----/);
      const publicKey = createPublicKey(pubPem);
      expect(publicKey.asymmetricKeyType).toBe(type === 'ed25519' ? 'ed25519' : 'ec');
      const keyid = createHash('sha256')
        .update(publicKey.export({ type: 'spki', format: 'der' }))
        .digest('hex');
      expect(result.stdout).toBe(
        `wrote ${type} key pair: private ${p(`kg-${type}.key`)} (0600), public ${p(`kg-${type}.pub`)}, keyid ${keyid}\n`,
      );
    },
  );

  it('creates a missing --out-dir', async () => {
    const result = await runCli('attest', 'keygen', '--out-dir', p('new/keys'), '--name', 'ci');
    expect(result.code, result.stderr).toBe(0);
    expect((await stat(p('new/keys/ci.key'))).mode & 0o777).toBe(0o600);
  });

  it('refuses to overwrite an existing key (exit 2)', async () => {
    await keygen('ed25519', 'once');
    const again = await runCli('attest', 'keygen', '--out-dir', dir, '--name', 'once');
    expect(again.code).toBe(2);
    expect(again.stderr).toBe(
      `stella: refusing to overwrite ${p('once.key')}: it exists (pass --force to replace it)\n`,
    );
  });

  it('rejects an unknown --type (exit 2)', async () => {
    const result = await runCli('attest', 'keygen', '--type', 'rsa', '--out-dir', dir);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(
      "option '--type <type>' argument 'rsa' is invalid. Allowed choices are ed25519, ecdsa-p256.",
    );
  });
});

describe.each(['ed25519', 'ecdsa-p256'] as const)('stella attest sign/verify with %s', (type) => {
  let key: string;
  let pub: string;
  beforeAll(async () => {
    ({ key, pub } = await keygen(type, `sv-${type}`));
  });

  it('signs a function map byte for byte with the function-map payload type', async () => {
    const out = p(`fm-${type}.dsse.json`);
    const signed = await runCli('attest', 'sign', '--input', p('fm.json'), '--output', out, '--key', key);
    expect(signed.code, signed.stderr).toBe(0);
    const envelope = await readEnvelope(out);
    expect(envelope.payloadType).toBe(FM_TYPE);
    expect(Buffer.from(envelope.payload, 'base64').equals(await readFile(p('fm.json')))).toBe(true);
    expect(envelope.signatures).toHaveLength(1);
    const verified = await runCli('attest', 'verify', '--input', out, '--key', pub);
    expect(verified.code, verified.stderr).toBe(0);
    expect(verified.stdout).toBe(
      `verified ${out}: payload type ${FM_TYPE}, signed by keyid ${envelope.signatures[0]?.keyid}\n`,
    );
  });

  it('signs a verification report as an in-toto Statement v1 with the linkage predicate', async () => {
    const out = p(`report-${type}.dsse.json`);
    const signed = await runCli('attest', 'sign', '--input', p('report.json'), '--output', out, '--key', key);
    expect(signed.code, signed.stderr).toBe(0);
    const envelope = await readEnvelope(out);
    expect(envelope.payloadType).toBe(IN_TOTO);
    const statement = JSON.parse(Buffer.from(envelope.payload, 'base64').toString('utf8'));
    expect(statement).toEqual({
      _type: 'https://in-toto.io/Statement/v1',
      subject: [{ name: 'function-map:checkout', digest: { sha256: 'b'.repeat(64) } }],
      predicateType: 'https://stella.ops/predicates/linkage-verification/v1',
      predicate: REPORT,
    });
    const payloadOut = p(`report-${type}.payload.json`);
    const verified = await runCli('attest', 'verify', '--input', out, '--key', pub, '--payload-output', payloadOut);
    expect(verified.code, verified.stderr).toBe(0);
    expect(verified.stdout).toContain(
      `payload type ${IN_TOTO}, predicate type https://stella.ops/predicates/linkage-verification/v1, signed by keyid`,
    );
    expect(JSON.parse(await readFile(payloadOut, 'utf8')).predicate).toEqual(REPORT);
  });
});

describe('bad input', () => {
  let key: string;
  let pub: string;
  let otherPub: string;
  let good: string;
  beforeAll(async () => {
    ({ key, pub } = await keygen('ed25519', 'bad'));
    ({ pub: otherPub } = await keygen('ed25519', 'other'));
    good = p('good.dsse.json');
    expect((await runCli('attest', 'sign', '--input', p('fm.json'), '--output', good, '--key', key)).code).toBe(0);
  });
  const keyidOf = async (file: string) =>
    createHash('sha256')
      .update(createPublicKey(await readFile(file, 'utf8')).export({ type: 'spki', format: 'der' }))
      .digest('hex');

  it('tampered payload: exit 1', async () => {
    const envelope = await readEnvelope(good);
    const tampered = JSON.parse(Buffer.from(envelope.payload, 'base64').toString('utf8'));
    tampered.predicate.service = 'evil';
    envelope.payload = Buffer.from(JSON.stringify(tampered)).toString('base64');
    await writeFile(p('tp.dsse.json'), JSON.stringify(envelope));
    const result = await runCli('attest', 'verify', '--input', p('tp.dsse.json'), '--key', pub);
    expect(result.code).toBe(1);
    expect(result.stderr).toBe(
      `stella: signature verification failed for ${p('tp.dsse.json')}: the signature does not match the payload under key ${pub} (keyid ${await keyidOf(pub)}); the payload, payload type or signature was altered\n`,
    );
  });

  it('tampered signature: exit 1', async () => {
    const envelope = await readEnvelope(good);
    const sig = Buffer.from(envelope.signatures[0]!.sig, 'base64');
    sig[10] = (sig[10] ?? 0) ^ 0x01;
    envelope.signatures[0]!.sig = sig.toString('base64');
    await writeFile(p('ts.dsse.json'), JSON.stringify(envelope));
    const result = await runCli('attest', 'verify', '--input', p('ts.dsse.json'), '--key', pub);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('the signature does not match the payload under key');
  });

  it('tampered payload type: exit 1 (the type is inside the PAE)', async () => {
    const envelope = await readEnvelope(good);
    envelope.payloadType = IN_TOTO;
    await writeFile(p('tt.dsse.json'), JSON.stringify(envelope));
    const result = await runCli('attest', 'verify', '--input', p('tt.dsse.json'), '--key', pub);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('the payload, payload type or signature was altered');
  });

  it('wrong key: exit 1, naming both keyids', async () => {
    const result = await runCli('attest', 'verify', '--input', good, '--key', otherPub);
    expect(result.code).toBe(1);
    expect(result.stderr).toBe(
      `stella: signature verification failed for ${good}: it is signed by keyid ${await keyidOf(pub)}, not by key ${otherPub} (keyid ${await keyidOf(otherPub)})\n`,
    );
  });

  it('wrong payload type: exit 1', async () => {
    const result = await runCli('attest', 'verify', '--input', good, '--key', pub, '--payload-type', IN_TOTO);
    expect(result.code).toBe(1);
    expect(result.stderr).toBe(`stella: envelope ${good} has payload type "${FM_TYPE}", expected "${IN_TOTO}"\n`);
  });

  it('truncated envelope: exit 2', async () => {
    const text = await readFile(good, 'utf8');
    await writeFile(p('trunc.dsse.json'), text.slice(0, Math.floor(text.length / 2)));
    const result = await runCli('attest', 'verify', '--input', p('trunc.dsse.json'), '--key', pub);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(
      new RegExp(`^stella: envelope ${p('trunc.dsse.json')} is not valid JSON \\(truncated or corrupted\\?\\): `),
    );
  });

  it('envelope without signatures or with bad base64: exit 2', async () => {
    const envelope = await readEnvelope(good);
    await writeFile(p('nosig.dsse.json'), JSON.stringify({ ...envelope, signatures: [] }));
    const nosig = await runCli('attest', 'verify', '--input', p('nosig.dsse.json'), '--key', pub);
    expect(nosig.code).toBe(2);
    expect(nosig.stderr).toBe(
      `stella: envelope ${p('nosig.dsse.json')} is not a DSSE envelope: field "signatures" must be a non-empty array\n`,
    );
    await writeFile(p('b64.dsse.json'), JSON.stringify({ ...envelope, payload: '!!not base64!!' }));
    const b64 = await runCli('attest', 'verify', '--input', p('b64.dsse.json'), '--key', pub);
    expect(b64.code).toBe(2);
    expect(b64.stderr).toBe(`stella: envelope ${p('b64.dsse.json')}: field "payload" is not valid base64\n`);
  });

  it('missing, unreadable (a directory), non-PEM, public-for-private and RSA key files: exit 2', async () => {
    const sign = (k: string) =>
      runCli('attest', 'sign', '--input', p('fm.json'), '--output', p('x.dsse.json'), '--key', k);
    const missing = await sign(p('nope.key'));
    expect([missing.code, missing.stderr]).toEqual([
      2,
      `stella: cannot read key file ${p('nope.key')}: no such file\n`,
    ]);
    await mkdir(p('keydir'), { recursive: true });
    const directory = await sign(p('keydir'));
    expect([directory.code, directory.stderr]).toEqual([
      2,
      `stella: cannot read key file ${p('keydir')}: it is a directory\n`,
    ]);
    await writeFile(p('garbage.key'), 'hello');
    const garbage = await sign(p('garbage.key'));
    expect([garbage.code, garbage.stderr]).toEqual([
      2,
      `stella: key file ${p('garbage.key')} is not a PEM key: expected a "-----BEGIN … KEY-----" block\n`,
    ]);
    const publicForPrivate = await sign(pub);
    expect([publicForPrivate.code, publicForPrivate.stderr]).toEqual([
      2,
      `stella: key file ${pub} holds a public key; signing needs the private key (the .key file)\n`,
    ]);
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
    await writeFile(p('rsa.key'), rsa.privateKey.export({ type: 'pkcs8', format: 'pem' }));
    const rsaResult = await sign(p('rsa.key'));
    expect([rsaResult.code, rsaResult.stderr]).toEqual([
      2,
      `stella: unsupported key type in ${p('rsa.key')}: rsa; expected ed25519 or ecdsa-p256\n`,
    ]);
    await writeFile(p('broken.pub'), '-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n');
    const broken = await runCli('attest', 'verify', '--input', good, '--key', p('broken.pub'));
    expect(broken.code).toBe(2);
    expect(broken.stderr).toMatch(new RegExp(`^stella: key file ${p('broken.pub')} is not a valid public key: `));
  });

  it('no --key and no STELLA_ATTEST_KEY: exit 2 with how to get one; the variable is honoured', async () => {
    const saved = process.env.STELLA_ATTEST_KEY;
    delete process.env.STELLA_ATTEST_KEY;
    try {
      const none = await runCli('attest', 'sign', '--input', p('fm.json'));
      expect([none.code, none.stderr]).toEqual([
        2,
        'stella: no signing key: pass --key FILE or set STELLA_ATTEST_KEY (make a key pair with `stella attest keygen`)\n',
      ]);
      process.env.STELLA_ATTEST_KEY = key;
      const fromEnv = await runCli('attest', 'sign', '--input', p('fm.json'));
      expect(fromEnv.code, fromEnv.stderr).toBe(0);
      expect(fromEnv.stdout).toContain(`-> ${p('fm.json')}.dsse.json`);
    } finally {
      if (saved === undefined) delete process.env.STELLA_ATTEST_KEY;
      else process.env.STELLA_ATTEST_KEY = saved;
    }
  });

  it('an input that is neither a function map nor a report: exit 2', async () => {
    await writeFile(p('other.json'), '{"hello": 1}');
    const result = await runCli(
      'attest',
      'sign',
      '--input',
      p('other.json'),
      '--output',
      p('o.dsse.json'),
      '--key',
      key,
    );
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(`stella: cannot tell what ${p('other.json')} is: expected a function map`);
  });

  it('--payload-type overrides detection; a type stella does not sign is refused (exit 2)', async () => {
    const wrapped = await runCli(
      'attest',
      'sign',
      '--input',
      p('report.json'),
      '--output',
      p('w.dsse.json'),
      '--key',
      key,
      '--payload-type',
      FM_TYPE,
    );
    expect(wrapped.code).toBe(0);
    expect((await readEnvelope(p('w.dsse.json'))).payloadType).toBe(FM_TYPE);
    const unknown = await runCli(
      'attest',
      'sign',
      '--input',
      p('fm.json'),
      '--output',
      p('u.dsse.json'),
      '--key',
      key,
      '--payload-type',
      'text/plain',
    );
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain("option '--payload-type <type>' argument 'text/plain' is invalid.");
  });
});
