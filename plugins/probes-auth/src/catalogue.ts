// SPDX-License-Identifier: Apache-2.0
import type { CatalogueEntry, CatalogueFunction } from '@stella/sdk';

/*
 * Which SBOM components carry authentication functions (used by `stella function-map generate`).
 * Functions marked `optional: true` that share a tag besides `auth` form one any-of path per
 * library (see the crypto catalogue for the convention).
 */

const auth = (symbol: string, extra: Partial<CatalogueFunction> = {}): CatalogueFunction => ({
  symbol,
  category: 'auth',
  priority: 'auth',
  ...extra,
});
const anyOf = (tag: string) => ({ optional: true, tags: ['auth', tag] });

/** Which SBOM components carry which functions of this plugin's categories (used by `generate`). */
export const catalogue: CatalogueEntry[] = [
  {
    name: 'Linux-PAM',
    match: { name: ['libpam0g', 'libpam0t64', 'linux-pam', 'pam', 'libpam'] },
    libraries: [
      {
        library: 'libpam.so.0',
        // Every PAM conversation begins with it (pamtester: one call per run).
        canary: 'pam_start',
        functions: [
          auth('pam_authenticate', { description: 'verifies the user (password, OTP, …)' }),
          auth('pam_acct_mgmt', { description: 'account validity (expiry, access rules)' }),
          auth('pam_open_session', { optional: true }),
          auth('pam_setcred', { optional: true }),
          auth('pam_chauthtok', { optional: true, description: 'password change, rare' }),
        ],
      },
    ],
  },
  {
    name: 'OpenLDAP client library',
    match: {
      name: [
        'libldap-2.5-0',
        'libldap-2.4-2',
        'libldap2',
        'libldap-2.6-0',
        'libldap',
        'openldap',
        'openldap-libs',
        'libldap2-*',
      ],
    },
    libraries: [
      {
        library: 'libldap-2.5.so.0',
        alternatives: ['libldap.so.2', 'libldap-2.4.so.2', 'libldap_r-2.4.so.2', 'libldap-2.6.so.0'],
        functions: [
          auth('ldap_sasl_bind', anyOf('auth-ldap-bind')),
          auth('ldap_sasl_bind_s', anyOf('auth-ldap-bind')),
          auth('ldap_sasl_interactive_bind_s', anyOf('auth-ldap-bind')),
          auth('ldap_simple_bind', anyOf('auth-ldap-bind')),
          auth('ldap_simple_bind_s', anyOf('auth-ldap-bind')),
          auth('ldap_bind', anyOf('auth-ldap-bind')),
          auth('ldap_bind_s', anyOf('auth-ldap-bind')),
        ],
      },
    ],
  },
  {
    name: 'Cyrus SASL',
    match: { name: ['libsasl2-2', 'cyrus-sasl', 'cyrus-sasl-lib', 'libsasl', 'libsasl2-3'] },
    libraries: [
      {
        library: 'libsasl2.so.2',
        alternatives: ['libsasl2.so.3'],
        functions: [
          auth('sasl_client_start', anyOf('auth-sasl')),
          auth('sasl_server_start', anyOf('auth-sasl')),
          auth('sasl_client_step', { optional: true }),
          auth('sasl_server_step', { optional: true }),
        ],
      },
    ],
  },
  {
    name: 'MIT Kerberos GSSAPI',
    match: { name: ['libgssapi-krb5-2', 'krb5-libs', 'krb5'] },
    libraries: [
      {
        library: 'libgssapi_krb5.so.2',
        functions: [
          auth('gss_init_sec_context', anyOf('auth-gssapi')),
          auth('gss_accept_sec_context', anyOf('auth-gssapi')),
          auth('gss_acquire_cred', { optional: true }),
        ],
      },
    ],
  },
  {
    name: 'MIT Kerberos krb5',
    match: { name: ['libkrb5-3', 'krb5-libs', 'krb5'] },
    libraries: [
      {
        library: 'libkrb5.so.3',
        functions: [
          auth('krb5_get_init_creds_password', anyOf('auth-kerberos')),
          auth('krb5_get_init_creds_keytab', anyOf('auth-kerberos')),
          auth('krb5_rd_req', anyOf('auth-kerberos')),
          auth('krb5_mk_req', anyOf('auth-kerberos')),
        ],
      },
    ],
  },
  {
    name: 'libjwt (JWT in C)',
    match: { name: ['libjwt0', 'libjwt2', 'libjwt', 'libjwt-gnutls0'] },
    libraries: [
      {
        library: 'libjwt.so.0',
        alternatives: ['libjwt.so.2', 'libjwt-gnutls.so.0'],
        functions: [
          auth('jwt_decode', anyOf('auth-jwt')),
          auth('jwt_decode_2', anyOf('auth-jwt')),
          auth('jwt_encode_str', { optional: true }),
        ],
      },
    ],
  },
];
