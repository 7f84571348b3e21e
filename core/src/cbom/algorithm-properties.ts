// SPDX-License-Identifier: Apache-2.0
/**
 * What a CBOM says of each algorithm name the probes record (plugins/probes-crypto/src/algorithms.ts):
 * CycloneDX 1.6 `algorithmProperties` and whether a quantum computer running Shor's algorithm breaks
 * it. Security levels are given only where they follow from the name alone: a hash's collision
 * resistance (half its output), a symmetric cipher's key length, a named curve's size. RSA, ECDSA,
 * ECDH and FFDH depend on a key size or curve the call does not show, so they carry none classically;
 * every Shor-breakable algorithm is NIST quantum level 0. Levels as NIST's PQC categories use them:
 * 1 = AES-128 key search, 2 = SHA-256 collision, 3 = AES-192, 4 = SHA-384 collision, 5 = AES-256.
 */

export type Primitive =
  | 'mac'
  | 'block-cipher'
  | 'stream-cipher'
  | 'signature'
  | 'hash'
  | 'pke'
  | 'xof'
  | 'key-agree'
  | 'ae'
  | 'unknown';
type Mode = 'cbc' | 'ecb' | 'ccm' | 'gcm' | 'cfb' | 'ofb' | 'ctr' | 'other';
type CryptoFunction = 'encrypt' | 'decrypt' | 'digest' | 'tag' | 'keyderive' | 'sign' | 'verify';

export interface AlgorithmProfile {
  primitive: Primitive;
  parameterSetIdentifier?: string;
  mode?: Mode;
  curve?: string;
  cryptoFunctions: CryptoFunction[];
  classicalSecurityLevel?: number;
  nistQuantumSecurityLevel?: number;
  /** The family Shor's algorithm breaks (`RSA`, `ECDH`, `ECDSA`, `FFDH`, `EdDSA`, `DSA`), if any. */
  quantumVulnerable?: string;
}

const HASH: CryptoFunction[] = ['digest'];
const CIPHER: CryptoFunction[] = ['encrypt', 'decrypt'];
const SIGN: CryptoFunction[] = ['sign', 'verify'];
const AGREE: CryptoFunction[] = ['keyderive'];

/** Hash output bits → (classical collision bits, NIST level); undefined where a collision is practical. */
function hashLevels(bits: number): Pick<AlgorithmProfile, 'classicalSecurityLevel' | 'nistQuantumSecurityLevel'> {
  if (bits < 224) return { nistQuantumSecurityLevel: 0 };
  const level = bits >= 512 ? 5 : bits >= 384 ? 4 : bits >= 256 ? 2 : 1;
  return { classicalSecurityLevel: bits / 2, nistQuantumSecurityLevel: level };
}

/** Symmetric key bits → NIST level (Grover halves the search). */
const keyLevel = (bits: number) => (bits >= 256 ? 5 : bits >= 192 ? 3 : bits >= 128 ? 1 : 0);

const FIXED: Record<string, AlgorithmProfile> = {
  MD4: { primitive: 'hash', cryptoFunctions: HASH, nistQuantumSecurityLevel: 0 },
  MD5: { primitive: 'hash', cryptoFunctions: HASH, nistQuantumSecurityLevel: 0 },
  'MD5-SHA1': { primitive: 'hash', cryptoFunctions: HASH, nistQuantumSecurityLevel: 0 },
  'SHA-1': { primitive: 'hash', parameterSetIdentifier: '160', cryptoFunctions: HASH, nistQuantumSecurityLevel: 0 },
  'RIPEMD-160': { primitive: 'hash', parameterSetIdentifier: '160', cryptoFunctions: HASH, ...hashLevels(160) },
  SM3: { primitive: 'hash', parameterSetIdentifier: '256', cryptoFunctions: HASH, ...hashLevels(256) },
  BLAKE2b: { primitive: 'hash', cryptoFunctions: HASH },
  'BLAKE2b-512': { primitive: 'hash', parameterSetIdentifier: '512', cryptoFunctions: HASH, ...hashLevels(512) },
  'BLAKE2s-256': { primitive: 'hash', parameterSetIdentifier: '256', cryptoFunctions: HASH, ...hashLevels(256) },
  SHAKE128: { primitive: 'xof', parameterSetIdentifier: '128', cryptoFunctions: HASH, classicalSecurityLevel: 128 },
  SHAKE256: { primitive: 'xof', parameterSetIdentifier: '256', cryptoFunctions: HASH, classicalSecurityLevel: 256 },
  RC4: { primitive: 'stream-cipher', cryptoFunctions: CIPHER, nistQuantumSecurityLevel: 0 },
  'DES-CBC': {
    primitive: 'block-cipher',
    mode: 'cbc',
    parameterSetIdentifier: '56',
    cryptoFunctions: CIPHER,
    classicalSecurityLevel: 56,
    nistQuantumSecurityLevel: 0,
  },
  'DES-EDE3-CBC': {
    primitive: 'block-cipher',
    mode: 'cbc',
    parameterSetIdentifier: '168',
    cryptoFunctions: CIPHER,
    classicalSecurityLevel: 112,
    nistQuantumSecurityLevel: 0,
  },
  'BF-CBC': { primitive: 'block-cipher', mode: 'cbc', cryptoFunctions: CIPHER },
  ChaCha20: {
    primitive: 'stream-cipher',
    parameterSetIdentifier: '256',
    cryptoFunctions: CIPHER,
    classicalSecurityLevel: 256,
    nistQuantumSecurityLevel: 5,
  },
  'ChaCha20-Poly1305': {
    primitive: 'ae',
    parameterSetIdentifier: '256',
    cryptoFunctions: CIPHER,
    classicalSecurityLevel: 256,
    nistQuantumSecurityLevel: 5,
  },
  'XChaCha20-Poly1305': {
    primitive: 'ae',
    parameterSetIdentifier: '256',
    cryptoFunctions: CIPHER,
    classicalSecurityLevel: 256,
    nistQuantumSecurityLevel: 5,
  },
  'XSalsa20-Poly1305': {
    primitive: 'ae',
    parameterSetIdentifier: '256',
    cryptoFunctions: CIPHER,
    classicalSecurityLevel: 256,
    nistQuantumSecurityLevel: 5,
  },
  'SM4-CBC': {
    primitive: 'block-cipher',
    mode: 'cbc',
    parameterSetIdentifier: '128',
    cryptoFunctions: CIPHER,
    classicalSecurityLevel: 128,
    nistQuantumSecurityLevel: 1,
  },
  RSA: { primitive: 'signature', cryptoFunctions: SIGN, nistQuantumSecurityLevel: 0, quantumVulnerable: 'RSA' },
  'RSASSA-PSS': {
    primitive: 'signature',
    cryptoFunctions: SIGN,
    nistQuantumSecurityLevel: 0,
    quantumVulnerable: 'RSA',
  },
  DSA: { primitive: 'signature', cryptoFunctions: SIGN, nistQuantumSecurityLevel: 0, quantumVulnerable: 'DSA' },
  ECDSA: { primitive: 'signature', cryptoFunctions: SIGN, nistQuantumSecurityLevel: 0, quantumVulnerable: 'ECDSA' },
  SM2: {
    primitive: 'signature',
    cryptoFunctions: SIGN,
    curve: 'sm2p256v1',
    classicalSecurityLevel: 128,
    nistQuantumSecurityLevel: 0,
    quantumVulnerable: 'ECDSA',
  },
  Ed25519: {
    primitive: 'signature',
    cryptoFunctions: SIGN,
    curve: 'Edwards25519',
    classicalSecurityLevel: 128,
    nistQuantumSecurityLevel: 0,
    quantumVulnerable: 'EdDSA',
  },
  Ed448: {
    primitive: 'signature',
    cryptoFunctions: SIGN,
    curve: 'Edwards448',
    classicalSecurityLevel: 224,
    nistQuantumSecurityLevel: 0,
    quantumVulnerable: 'EdDSA',
  },
  ECDH: { primitive: 'key-agree', cryptoFunctions: AGREE, nistQuantumSecurityLevel: 0, quantumVulnerable: 'ECDH' },
  X25519: {
    primitive: 'key-agree',
    cryptoFunctions: AGREE,
    curve: 'Curve25519',
    classicalSecurityLevel: 128,
    nistQuantumSecurityLevel: 0,
    quantumVulnerable: 'ECDH',
  },
  X448: {
    primitive: 'key-agree',
    cryptoFunctions: AGREE,
    curve: 'Curve448',
    classicalSecurityLevel: 224,
    nistQuantumSecurityLevel: 0,
    quantumVulnerable: 'ECDH',
  },
  FFDH: { primitive: 'key-agree', cryptoFunctions: AGREE, nistQuantumSecurityLevel: 0, quantumVulnerable: 'FFDH' },
  'X25519-XSalsa20-Poly1305': {
    primitive: 'pke',
    cryptoFunctions: CIPHER,
    curve: 'Curve25519',
    classicalSecurityLevel: 128,
    nistQuantumSecurityLevel: 0,
    quantumVulnerable: 'ECDH',
  },
};

const MODES: Record<string, Mode> = {
  CBC: 'cbc',
  ECB: 'ecb',
  CCM: 'ccm',
  GCM: 'gcm',
  CFB: 'cfb',
  OFB: 'ofb',
  CTR: 'ctr',
};

/** The CycloneDX view of one recorded algorithm name; `unknown` primitive for a name it does not know. */
export function algorithmProfile(name: string): AlgorithmProfile {
  const fixed = FIXED[name];
  if (fixed) return fixed;
  // SHA-256, SHA-512/224, SHA3-384: the output size names the levels.
  const sha = /^SHA3?-(?:512\/)?(\d{3})$/.exec(name);
  if (sha)
    return { primitive: 'hash', parameterSetIdentifier: sha[1], cryptoFunctions: HASH, ...hashLevels(Number(sha[1])) };
  // AES-256-GCM, CAMELLIA-128-CBC, AES-128-CCM-8, AES-256-CBC-HMAC-SHA256, AES-128-CMAC.
  const block = /^(AES|CAMELLIA)-(128|192|256)-([A-Z]+)/.exec(name);
  if (block) {
    const bits = Number(block[2]);
    const kind = block[3]!;
    const levels = { classicalSecurityLevel: bits, nistQuantumSecurityLevel: keyLevel(bits) };
    if (kind === 'CMAC' || kind === 'GMAC')
      return { primitive: 'mac', parameterSetIdentifier: String(bits), cryptoFunctions: ['tag'], ...levels };
    const authenticated = kind === 'GCM' || kind === 'CCM' || kind === 'OCB' || kind === 'SIV';
    return {
      primitive: authenticated ? 'ae' : 'block-cipher',
      parameterSetIdentifier: String(bits),
      mode: MODES[kind] ?? 'other',
      cryptoFunctions: CIPHER,
      ...levels,
    };
  }
  if (name.startsWith('HMAC-')) {
    const hash = name.slice('HMAC-'.length);
    return {
      primitive: 'mac',
      cryptoFunctions: ['tag'],
      ...(algorithmProfile(hash).parameterSetIdentifier
        ? { parameterSetIdentifier: algorithmProfile(hash).parameterSetIdentifier }
        : {}),
    };
  }
  return { primitive: 'unknown', cryptoFunctions: [] };
}

/**
 * The labels of `stella_crypto_algorithm_calls_total`: the name when the CBOM knows it (or
 * `unknown`), else `other`, so a library's unnamed numbers cannot grow the label set.
 */
export function metricAlgorithm(name: string): { name: string; primitive: Primitive } {
  const profile = algorithmProfile(name);
  if (profile.primitive !== 'unknown') return { name, primitive: profile.primitive };
  return { name: name === 'unknown' ? 'unknown' : 'other', primitive: 'unknown' };
}
