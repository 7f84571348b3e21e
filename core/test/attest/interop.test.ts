// SPDX-License-Identifier: Apache-2.0
/**
 * Interop with an independent DSSE implementation from npm: sigstore-js. @sigstore/sign's
 * DSSEBundleBuilder computes the PAE and assembles the envelope itself (we only hand it a raw
 * signing callback); @sigstore/verify recomputes the PAE from the envelope and checks the
 * signature with a public key from its trust material. No Fulcio, Rekor or TSA is involved.
 */
import { createPublicKey, type KeyObject, sign } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { bundleFromJSON, bundleToJSON } from '@sigstore/bundle';
import { DSSEBundleBuilder } from '@sigstore/sign';
import { toSignedEntity, toTrustMaterial, Verifier } from '@sigstore/verify';
import nock from 'nock';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { keyIdOf, loadPrivateKey } from '../../src/attest/keys.js';
import { FUNCTION_MAP, REPORT, runCli, withTempDir } from './cli-harness.js';

const FM_TYPE = 'application/vnd.stellaops.function-map.v1+json';

let dir: string;
let remove: () => Promise<void>;
const p = (name: string) => join(dir, name);

beforeAll(async () => {
  nock.disableNetConnect();
  ({ dir, remove } = await withTempDir());
  await writeFile(p('fm.json'), JSON.stringify(FUNCTION_MAP));
  await writeFile(p('report.json'), JSON.stringify(REPORT));
});
afterAll(async () => {
  nock.enableNetConnect();
  await remove();
});

/** Verifies a DSSE JSON envelope with sigstore-js only; throws its VerificationError on failure. */
function sigstoreVerify(envelope: unknown, publicKey: KeyObject, keyid: string): void {
  const bundle = bundleFromJSON({
    mediaType: 'application/vnd.dev.sigstore.bundle.v0.3+json',
    verificationMaterial: {
      publicKey: { hint: keyid },
      tlogEntries: [],
      timestampVerificationData: { rfc3161Timestamps: [] },
    },
    dsseEnvelope: envelope,
  });
  const trustedRoot = {
    certificateAuthorities: [],
    timestampAuthorities: [],
    tlogs: [],
    ctlogs: [],
  } as unknown as Parameters<typeof toTrustMaterial>[0];
  const trust = toTrustMaterial(trustedRoot, (hint: string) => {
    if (hint !== keyid) throw new Error(`unknown key ${hint}`);
    return { publicKey, validFor: () => true };
  });
  new Verifier(trust, { tlogThreshold: 0, ctlogThreshold: 0, timestampThreshold: 0 }).verify(toSignedEntity(bundle));
}

/** Signs with sigstore-js's DSSE builder; returns the JSON envelope it produced. */
async function sigstoreSign(payloadType: string, payload: Buffer, privateKey: KeyObject): Promise<unknown> {
  const publicKey = createPublicKey(privateKey);
  const builder = new DSSEBundleBuilder({
    witnesses: [],
    signer: {
      sign: async (pae: Buffer) => ({
        signature:
          privateKey.asymmetricKeyType === 'ed25519' ? sign(null, pae, privateKey) : sign('sha256', pae, privateKey),
        key: {
          $case: 'publicKey',
          publicKey: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
          hint: keyIdOf(publicKey),
        },
      }),
    },
  });
  const bundle = await builder.create({ data: payload, type: payloadType });
  return bundleToJSON(bundle).dsseEnvelope;
}

describe.each(['ed25519', 'ecdsa-p256'] as const)('DSSE interop with sigstore-js (%s)', (type) => {
  let key: string;
  let pub: string;
  beforeAll(async () => {
    expect((await runCli('attest', 'keygen', '--type', type, '--out-dir', dir, '--name', type)).code).toBe(0);
    key = p(`${type}.key`);
    pub = p(`${type}.pub`);
  });

  it('an envelope from `stella attest sign` verifies with @sigstore/verify, and a tampered one does not', async () => {
    for (const input of ['fm.json', 'report.json']) {
      const out = p(`${type}-${input}.dsse.json`);
      expect((await runCli('attest', 'sign', '--input', p(input), '--output', out, '--key', key)).code).toBe(0);
      const envelope = JSON.parse(await readFile(out, 'utf8'));
      const publicKey = createPublicKey(await readFile(pub, 'utf8'));
      const keyid = keyIdOf(publicKey);
      expect(envelope.signatures[0].keyid).toBe(keyid);
      expect(() => sigstoreVerify(envelope, publicKey, keyid)).not.toThrow();
      const tampered = { ...envelope, payload: Buffer.from('{"tampered":true}').toString('base64') };
      expect(() => sigstoreVerify(tampered, publicKey, keyid)).toThrow('signature verification failed');
    }
  });

  it('`stella attest verify` accepts an envelope made by @sigstore/sign, and rejects it once altered', async () => {
    const payload = await readFile(p('fm.json'));
    const envelope = (await sigstoreSign(FM_TYPE, payload, await loadPrivateKey(key))) as {
      payload: string;
      payloadType: string;
    };
    expect(envelope.payloadType).toBe(FM_TYPE);
    await writeFile(p(`${type}-sigstore.dsse.json`), JSON.stringify(envelope));
    const result = await runCli('attest', 'verify', '--input', p(`${type}-sigstore.dsse.json`), '--key', pub);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain(`payload type ${FM_TYPE}`);
    await writeFile(
      p(`${type}-sigstore-bad.dsse.json`),
      JSON.stringify({ ...envelope, payload: Buffer.from(`${payload} `).toString('base64') }),
    );
    const altered = await runCli('attest', 'verify', '--input', p(`${type}-sigstore-bad.dsse.json`), '--key', pub);
    expect(altered.code).toBe(1);
  });
});
