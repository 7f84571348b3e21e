// SPDX-License-Identifier: Apache-2.0
/**
 * How each crypto function's algorithm is read at the call, and the names of the values read.
 *
 * OpenSSL: the first `int` of EVP_MD (`type`), EVP_CIPHER (`nid`) and EVP_PKEY (`type`) is the
 * object's NID in 1.1.1 (crypto/include/internal/evp_int.h) and in 3.x (include/crypto/evp.h),
 * for built-in and provider-fetched objects alike (a fetched digest or cipher gets its legacy NID;
 * a provider key gets the legacy type of its key manager, or -1 when it has none, which is
 * unnamed and so `unknown`). plugins/probes-crypto/test/openssl-layout.test.ts checks this against
 * the installed library. BoringSSL's EVP_PKEY starts with a reference count, so its key type is
 * not read. The NIDs are OpenSSL's stable object numbers (its NID_* constants), checked by the same test.
 *
 * GnuTLS 3.x takes the algorithm as an enum argument (gnutls_cipher_algorithm_t,
 * gnutls_digest_algorithm_t, gnutls_mac_algorithm_t: numbers fixed by its ABI, checked against the
 * installed header by plugins/probes-crypto/test/gnutls-enums.test.ts). In libsodium the function
 * is the algorithm.
 */
import type { AlgorithmSource, ArgumentRead } from '@stella/sdk';

/** OpenSSL NID → digest name. */
export const OPENSSL_DIGESTS: Readonly<Record<number, string>> = {
  4: 'MD5',
  64: 'SHA-1',
  114: 'MD5-SHA1',
  117: 'RIPEMD-160',
  257: 'MD4',
  672: 'SHA-256',
  673: 'SHA-384',
  674: 'SHA-512',
  675: 'SHA-224',
  1056: 'BLAKE2b-512',
  1057: 'BLAKE2s-256',
  1094: 'SHA-512/224',
  1095: 'SHA-512/256',
  1096: 'SHA3-224',
  1097: 'SHA3-256',
  1098: 'SHA3-384',
  1099: 'SHA3-512',
  1100: 'SHAKE128',
  1101: 'SHAKE256',
  1143: 'SM3',
};

/** OpenSSL NID → cipher name. */
export const OPENSSL_CIPHERS: Readonly<Record<number, string>> = {
  5: 'RC4',
  31: 'DES-CBC',
  44: 'DES-EDE3-CBC',
  91: 'BF-CBC',
  418: 'AES-128-ECB',
  419: 'AES-128-CBC',
  420: 'AES-128-OFB',
  421: 'AES-128-CFB',
  423: 'AES-192-CBC',
  426: 'AES-256-ECB',
  427: 'AES-256-CBC',
  428: 'AES-256-OFB',
  429: 'AES-256-CFB',
  751: 'CAMELLIA-128-CBC',
  753: 'CAMELLIA-256-CBC',
  895: 'AES-128-GCM',
  896: 'AES-128-CCM',
  898: 'AES-192-GCM',
  901: 'AES-256-GCM',
  902: 'AES-256-CCM',
  904: 'AES-128-CTR',
  905: 'AES-192-CTR',
  906: 'AES-256-CTR',
  913: 'AES-128-XTS',
  914: 'AES-256-XTS',
  916: 'AES-128-CBC-HMAC-SHA1',
  918: 'AES-256-CBC-HMAC-SHA1',
  948: 'AES-128-CBC-HMAC-SHA256',
  950: 'AES-256-CBC-HMAC-SHA256',
  958: 'AES-128-OCB',
  960: 'AES-256-OCB',
  1018: 'ChaCha20-Poly1305',
  1019: 'ChaCha20',
  1134: 'SM4-CBC',
};

/** OpenSSL EVP_PKEY type (a NID) → the signature algorithm a key of that type signs with. */
export const OPENSSL_SIGNATURE_KEYS: Readonly<Record<number, string>> = {
  6: 'RSA',
  116: 'DSA',
  408: 'ECDSA',
  912: 'RSASSA-PSS',
  1087: 'Ed25519',
  1088: 'Ed448',
  1172: 'SM2',
};

/** OpenSSL EVP_PKEY type → the key agreement a peer key of that type takes part in. */
export const OPENSSL_KEY_AGREEMENT_KEYS: Readonly<Record<number, string>> = {
  28: 'FFDH',
  408: 'ECDH',
  920: 'FFDH',
  1034: 'X25519',
  1035: 'X448',
};

/** gnutls_cipher_algorithm_t → name. */
export const GNUTLS_CIPHERS: Readonly<Record<number, string>> = {
  2: 'RC4',
  3: 'DES-EDE3-CBC',
  4: 'AES-128-CBC',
  5: 'AES-256-CBC',
  7: 'CAMELLIA-128-CBC',
  8: 'CAMELLIA-256-CBC',
  9: 'AES-192-CBC',
  10: 'AES-128-GCM',
  11: 'AES-256-GCM',
  18: 'DES-CBC',
  19: 'AES-128-CCM',
  20: 'AES-256-CCM',
  21: 'AES-128-CCM-8',
  22: 'AES-256-CCM-8',
  23: 'ChaCha20-Poly1305',
  32: 'AES-128-XTS',
  33: 'AES-256-XTS',
  37: 'AES-128-SIV',
  38: 'AES-256-SIV',
  39: 'AES-192-GCM',
};

/** gnutls_digest_algorithm_t (the same numbers as gnutls_mac_algorithm_t's hashes) → name. */
export const GNUTLS_DIGESTS: Readonly<Record<number, string>> = {
  2: 'MD5',
  3: 'SHA-1',
  4: 'RIPEMD-160',
  6: 'SHA-256',
  7: 'SHA-384',
  8: 'SHA-512',
  9: 'SHA-224',
  10: 'SHA3-224',
  11: 'SHA3-256',
  12: 'SHA3-384',
  13: 'SHA3-512',
};

/** gnutls_mac_algorithm_t → name: the HMACs and the cipher-based MACs. */
export const GNUTLS_MACS: Readonly<Record<number, string>> = {
  ...Object.fromEntries(Object.entries(GNUTLS_DIGESTS).map(([id, hash]) => [id, `HMAC-${hash}`])),
  203: 'AES-128-CMAC',
  204: 'AES-256-CMAC',
  205: 'AES-128-GMAC',
  206: 'AES-192-GMAC',
  207: 'AES-256-GMAC',
};

/** A name from `table`, or the library's own number when the table has none (read, so no guess). */
const named =
  (table: Readonly<Record<number, string>>, unnamed: string) =>
  (value: number): string | undefined =>
    table[value] ?? (value === 0 || value === 0xffffffff ? undefined : `${unnamed}:${value}`);

const read = (argument: ArgumentRead['argument'], field?: number): ArgumentRead =>
  field === undefined ? { argument } : { argument, field };

/** The NID at offset 0 of the EVP_MD / EVP_CIPHER / EVP_PKEY passed as `argument`. */
export const opensslDigestAt = (argument: ArgumentRead['argument']): AlgorithmSource => ({
  read: read(argument, 0),
  nameOf: named(OPENSSL_DIGESTS, 'openssl-nid'),
});
/**
 * The cipher of `EVP_*Init_ex(ctx, cipher, …)`; a NULL cipher keeps the context's, read from the
 * EVP_CIPHER_CTX's first member (`cipher`, first in 1.1.1's and 3.x's evp_cipher_ctx_st).
 */
export const opensslCipherAt = (argument: ArgumentRead['argument']): AlgorithmSource => ({
  read: { argument, field: 0, whenNullFirstMemberOf: 1 },
  nameOf: named(OPENSSL_CIPHERS, 'openssl-nid'),
});
export const opensslSignatureKeyAt = (argument: ArgumentRead['argument']): AlgorithmSource => ({
  read: read(argument, 0),
  nameOf: named(OPENSSL_SIGNATURE_KEYS, 'openssl-pkey'),
});
export const opensslKeyAgreementKeyAt = (argument: ArgumentRead['argument']): AlgorithmSource => ({
  read: read(argument, 0),
  nameOf: named(OPENSSL_KEY_AGREEMENT_KEYS, 'openssl-pkey'),
});

/** The enum GnuTLS takes as `argument`. */
export const gnutlsCipherAt = (argument: ArgumentRead['argument']): AlgorithmSource => ({
  read: read(argument),
  nameOf: named(GNUTLS_CIPHERS, 'gnutls-cipher'),
});
export const gnutlsDigestAt = (argument: ArgumentRead['argument']): AlgorithmSource => ({
  read: read(argument),
  nameOf: named(GNUTLS_DIGESTS, 'gnutls-digest'),
});
export const gnutlsMacAt = (argument: ArgumentRead['argument']): AlgorithmSource => ({
  read: read(argument),
  nameOf: named(GNUTLS_MACS, 'gnutls-mac'),
});

/** The function is the algorithm (libsodium). */
export const fixedAlgorithm = (name: string): AlgorithmSource => ({ fixed: name });

/**
 * A crypto operation whose algorithm is not read: its argument is an EVP_PKEY_CTX, whose layout
 * differs between OpenSSL 1.1.1 and 3.x (and between 3.x releases), so its calls say `unknown`.
 * The key type of the same operations is read where the key itself is an argument
 * (EVP_DigestSignInit*, EVP_DigestVerifyInit*, EVP_PKEY_derive_set_peer*).
 */
export const UNREAD_ALGORITHM: AlgorithmSource = { fixed: 'unknown' };
