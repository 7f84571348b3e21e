// SPDX-License-Identifier: Apache-2.0
import type { AlgorithmSource, CatalogueEntry, CatalogueFunction, CatalogueLibrary } from '@stella/sdk';
import {
  fixedAlgorithm,
  gnutlsCipherAt,
  gnutlsDigestAt,
  gnutlsMacAt,
  opensslCipherAt,
  opensslDigestAt,
  opensslKeyAgreementKeyAt,
  opensslSignatureKeyAt,
  UNREAD_ALGORITHM,
} from './algorithms.js';

/*
 * Which SBOM components carry crypto and TLS functions (used by `stella function-map generate`).
 *
 * Grouping convention read by the generator: functions marked `optional: true` that share a tag
 * besides their category form ONE path per library that is observed when ANY of them is seen
 * (an any-of group). docs/KERNEL.md §8: node never calls SSL_do_handshake; handshakes run
 * inside SSL_connect/SSL_accept or implicitly in the first SSL_read/SSL_write after
 * SSL_set_connect_state/SSL_set_accept_state, so the handshake group lists all of those. SSL_read
 * and SSL_write themselves stay optional single paths: they are hot and their first instruction is
 * single-stepped (~10 µs a hit), so they are no good as the required proof of a handshake.
 * Functions called only at start-up (SSL_CTX_new) are optional: a 30-minute window after start
 * would never see them.
 */

const tls = (symbol: string, extra: Partial<CatalogueFunction> = {}): CatalogueFunction => ({
  symbol,
  category: 'tls',
  priority: 'crypto',
  ...extra,
});
const crypto = (symbol: string, extra: Partial<CatalogueFunction> = {}): CatalogueFunction => ({
  symbol,
  category: 'crypto',
  priority: 'crypto',
  ...extra,
});
const anyOf = (tag: string, algorithm?: AlgorithmSource) => ({
  optional: true,
  tags: [tag.split('-')[0]!, tag],
  ...(algorithm ? { algorithm } : {}),
});

/** OpenSSL/BoringSSL libssl API (the same names in 1.1, 3.x and BoringSSL). */
const SSL_FUNCTIONS: CatalogueFunction[] = [
  tls('SSL_do_handshake', {
    ...anyOf('tls-handshake'),
    description: 'explicit handshake (curl, non-blocking clients)',
  }),
  tls('SSL_connect', { ...anyOf('tls-handshake'), description: 'client handshake' }),
  tls('SSL_accept', { ...anyOf('tls-handshake'), description: 'server handshake' }),
  tls('SSL_set_connect_state', {
    ...anyOf('tls-handshake'),
    description: 'client side of an implicit handshake (node)',
  }),
  tls('SSL_set_accept_state', {
    ...anyOf('tls-handshake'),
    description: 'server side of an implicit handshake (node)',
  }),
  tls('SSL_read', { optional: true, hot: true, description: 'TLS record read; hot, single-stepped probe' }),
  tls('SSL_write', { optional: true, hot: true, description: 'TLS record write; hot, single-stepped probe' }),
  tls('SSL_CTX_new', { optional: true, description: 'context set-up, usually once at start' }),
  tls('SSL_shutdown', { optional: true }),
];

/**
 * libcrypto EVP API, grouped by capability (a TLS 1.3 handshake exercises digest, signature and
 * kex). `keyTypes: false` for BoringSSL, whose EVP_PKEY does not start with its type.
 */
const evpFunctions = (keyTypes: boolean): CatalogueFunction[] => {
  const signatureKey = (argument: 5 | 6) => (keyTypes ? opensslSignatureKeyAt(argument) : UNREAD_ALGORITHM);
  const peerKey = keyTypes ? opensslKeyAgreementKeyAt(2) : UNREAD_ALGORITHM;
  return [
    // Hot (measured per TLS 1.3 handshake, both sides: ~115 and ~70 calls), and counted in the
    // kernel by default rather than in presence mode, since their algorithm is counted per call.
    crypto('EVP_DigestInit_ex', {
      ...anyOf('crypto-digest', opensslDigestAt(2)),
      hot: true,
      description: 'hot: once per hash (~115 calls a TLS 1.3 handshake, both sides)',
    }),
    crypto('EVP_DigestInit_ex2', anyOf('crypto-digest', opensslDigestAt(2))),
    crypto('EVP_DigestInit', anyOf('crypto-digest', opensslDigestAt(2))),
    crypto('EVP_Digest', anyOf('crypto-digest', opensslDigestAt(5))),
    crypto('EVP_DigestUpdate', { optional: true, hot: true, description: 'hot: every block hashed' }),
    crypto('EVP_EncryptInit_ex', anyOf('crypto-cipher', opensslCipherAt(2))),
    crypto('EVP_DecryptInit_ex', anyOf('crypto-cipher', opensslCipherAt(2))),
    crypto('EVP_CipherInit_ex', {
      ...anyOf('crypto-cipher', opensslCipherAt(2)),
      hot: true,
      description: 'hot: once per TLS record (~70 calls a TLS 1.3 handshake, both sides)',
    }),
    crypto('EVP_CipherInit_ex2', anyOf('crypto-cipher', opensslCipherAt(2))),
    crypto('EVP_DigestSignInit', anyOf('crypto-signature', signatureKey(5))),
    crypto('EVP_DigestVerifyInit', anyOf('crypto-signature', signatureKey(5))),
    crypto('EVP_DigestSignInit_ex', anyOf('crypto-signature', signatureKey(6))),
    crypto('EVP_DigestVerifyInit_ex', anyOf('crypto-signature', signatureKey(6))),
    crypto('EVP_PKEY_sign', anyOf('crypto-signature', UNREAD_ALGORITHM)),
    crypto('EVP_PKEY_verify', anyOf('crypto-signature', UNREAD_ALGORITHM)),
    // Not its 3.x `_ex` too: EVP_PKEY_derive_set_peer calls it, and one call would count twice.
    crypto('EVP_PKEY_derive_set_peer', anyOf('crypto-kex', peerKey)),
    crypto('EVP_PKEY_derive', anyOf('crypto-kex', UNREAD_ALGORITHM)),
    crypto('EVP_PKEY_keygen', anyOf('crypto-kex', UNREAD_ALGORITHM)),
    crypto('RAND_bytes', { optional: true }),
    crypto('RAND_priv_bytes', { optional: true }),
  ];
};
const EVP_FUNCTIONS = evpFunctions(true);
// OpenSSL 1.1 has no *_ex2 / *_ex variants of these; the generator drops absent symbols with a warning under --rootfs.

// Canaries (CatalogueLibrary.canary), counted with bpftrace on Debian 12's OpenSSL 3 (curl, openssl
// s_client, a python ssl client): SSL_CTX_new_ex runs once per TLS context (SSL_CTX_new calls it),
// usually once per process; OPENSSL_atexit once per process in libcrypto (its base init registers
// its cleanup with it). OPENSSL_init_ssl and OPENSSL_init_crypto are no canaries: they run again
// on every connection or lazy init check (6 and over 10,000 times in one python TLS client). A
// library that may be 1.1 gets SSL_CTX_new (1.1 has no _ex). BoringSSL gets none.
const libssl = (library: string, alternatives: string[] = [], canary = 'SSL_CTX_new'): CatalogueLibrary => ({
  library,
  alternatives,
  ...(canary ? { canary } : {}),
  functions: SSL_FUNCTIONS,
});
const libcrypto = (
  library: string,
  alternatives: string[] = [],
  canary = 'OPENSSL_atexit',
  functions = EVP_FUNCTIONS,
): CatalogueLibrary => ({
  library,
  alternatives,
  ...(canary ? { canary } : {}),
  functions,
});

/** Which SBOM components carry which functions of this plugin's categories (used by `generate`). */
export const catalogue: CatalogueEntry[] = [
  {
    name: 'OpenSSL 3 (Debian/Ubuntu libssl3: libssl + libcrypto)',
    match: { purlType: 'deb', name: ['libssl3', 'libssl3t64'] },
    libraries: [libssl('libssl.so.3', [], 'SSL_CTX_new_ex'), libcrypto('libcrypto.so.3')],
  },
  {
    name: 'OpenSSL 1.1 (Debian/Ubuntu libssl1.1)',
    match: { purlType: 'deb', name: 'libssl1.1' },
    libraries: [libssl('libssl.so.1.1'), libcrypto('libcrypto.so.1.1')],
  },
  {
    name: 'OpenSSL libssl (Alpine)',
    match: { purlType: 'apk', name: ['libssl3', 'libssl1.1'] },
    libraries: [libssl('libssl.so.3', ['libssl.so.1.1'])],
  },
  {
    name: 'OpenSSL libcrypto (Alpine)',
    match: { purlType: 'apk', name: ['libcrypto3', 'libcrypto1.1'] },
    libraries: [libcrypto('libcrypto.so.3', ['libcrypto.so.1.1'])],
  },
  {
    name: 'OpenSSL (RPM openssl-libs)',
    match: { purlType: 'rpm', name: ['openssl-libs', 'openssl1.1', 'openssl3-libs', 'libopenssl3', 'libopenssl1_1'] },
    libraries: [
      libssl('libssl.so.3', ['libssl.so.1.1', 'libssl.so.10']),
      libcrypto('libcrypto.so.3', ['libcrypto.so.1.1', 'libcrypto.so.10']),
    ],
  },
  {
    name: 'OpenSSL (generic, conan, source builds)',
    match: { purlType: ['generic', 'conan', 'github'], name: 'openssl' },
    libraries: [libssl('libssl.so.3', ['libssl.so.1.1']), libcrypto('libcrypto.so.3', ['libcrypto.so.1.1'])],
  },
  {
    name: 'BoringSSL (shared build)',
    match: { name: 'boringssl' },
    libraries: [libssl('libssl.so', [], ''), libcrypto('libcrypto.so', [], '', evpFunctions(false))],
  },
  {
    name: 'Node.js (OpenSSL statically linked into the node executable)',
    match: { purlType: ['deb', 'apk', 'rpm', 'generic'], name: ['nodejs', 'node', 'nodejs-current', 'nodejs*-lts'] },
    libraries: [{ library: 'node', binaryPath: '/usr/bin/node', functions: [...SSL_FUNCTIONS, ...EVP_FUNCTIONS] }],
  },
  {
    name: 'GnuTLS',
    match: { name: ['libgnutls30', 'libgnutls30t64', 'gnutls'] },
    libraries: [
      {
        library: 'libgnutls.so.30',
        functions: [
          tls('gnutls_handshake', { description: 'every GnuTLS handshake, client and server' }),
          tls('gnutls_record_recv', { optional: true, hot: true }),
          tls('gnutls_record_send', { optional: true, hot: true }),
          tls('gnutls_init', { optional: true }),
          crypto('gnutls_hash_init', anyOf('crypto-digest', gnutlsDigestAt(2))),
          crypto('gnutls_hash_fast', anyOf('crypto-digest', gnutlsDigestAt(1))),
          crypto('gnutls_hmac_init', anyOf('crypto-digest', gnutlsMacAt(2))),
          crypto('gnutls_cipher_init', anyOf('crypto-cipher', gnutlsCipherAt(2))),
          crypto('gnutls_aead_cipher_init', anyOf('crypto-cipher', gnutlsCipherAt(2))),
          crypto('gnutls_privkey_sign_data', anyOf('crypto-signature')),
          crypto('gnutls_pubkey_verify_data2', anyOf('crypto-signature')),
        ],
      },
    ],
  },
  {
    name: 'libsodium',
    match: { name: ['libsodium23', 'libsodium', 'libsodium26'] },
    libraries: [
      {
        library: 'libsodium.so.23',
        alternatives: ['libsodium.so.26'],
        // Every libsodium user must call it before anything else (it is idempotent).
        canary: 'sodium_init',
        functions: [
          crypto('crypto_secretbox_easy', anyOf('crypto-cipher', fixedAlgorithm('XSalsa20-Poly1305'))),
          crypto('crypto_secretbox_open_easy', anyOf('crypto-cipher', fixedAlgorithm('XSalsa20-Poly1305'))),
          crypto(
            'crypto_aead_xchacha20poly1305_ietf_encrypt',
            anyOf('crypto-cipher', fixedAlgorithm('XChaCha20-Poly1305')),
          ),
          crypto(
            'crypto_aead_xchacha20poly1305_ietf_decrypt',
            anyOf('crypto-cipher', fixedAlgorithm('XChaCha20-Poly1305')),
          ),
          crypto(
            'crypto_aead_chacha20poly1305_ietf_encrypt',
            anyOf('crypto-cipher', fixedAlgorithm('ChaCha20-Poly1305')),
          ),
          crypto('crypto_box_easy', anyOf('crypto-kex', fixedAlgorithm('X25519-XSalsa20-Poly1305'))),
          crypto('crypto_box_open_easy', anyOf('crypto-kex', fixedAlgorithm('X25519-XSalsa20-Poly1305'))),
          crypto('crypto_kx_client_session_keys', anyOf('crypto-kex', fixedAlgorithm('X25519'))),
          crypto('crypto_kx_server_session_keys', anyOf('crypto-kex', fixedAlgorithm('X25519'))),
          crypto('crypto_sign', anyOf('crypto-signature', fixedAlgorithm('Ed25519'))),
          crypto('crypto_sign_detached', anyOf('crypto-signature', fixedAlgorithm('Ed25519'))),
          crypto('crypto_sign_verify_detached', anyOf('crypto-signature', fixedAlgorithm('Ed25519'))),
          crypto('crypto_generichash', anyOf('crypto-digest', fixedAlgorithm('BLAKE2b'))),
          crypto('crypto_generichash_init', anyOf('crypto-digest', fixedAlgorithm('BLAKE2b'))),
          crypto('crypto_pwhash', { optional: true }),
          crypto('randombytes_buf', { optional: true }),
          crypto('sodium_init', { optional: true }),
        ],
      },
    ],
  },
  {
    name: 'libgcrypt',
    match: { name: ['libgcrypt20', 'libgcrypt'] },
    libraries: [
      {
        library: 'libgcrypt.so.20',
        functions: [
          crypto('gcry_md_open', anyOf('crypto-digest')),
          crypto('gcry_md_hash_buffer', anyOf('crypto-digest')),
          crypto('gcry_cipher_open', anyOf('crypto-cipher')),
          crypto('gcry_pk_sign', anyOf('crypto-signature')),
          crypto('gcry_pk_verify', anyOf('crypto-signature')),
          crypto('gcry_pk_encrypt', anyOf('crypto-kex')),
          crypto('gcry_pk_decrypt', anyOf('crypto-kex')),
          crypto('gcry_randomize', { optional: true }),
        ],
      },
    ],
  },
];
