// SPDX-License-Identifier: Apache-2.0
import { describe, expect, it } from 'vitest';
import { collectConfigProblems, describeConfig, loadConfig, resolveConfig } from '../../src/config/index.js';
import { configErrorOf } from './helpers.js';

const SECRETS = ['pg-s3cret', 'valkey-s3cret', 'hdr-s3cret', 'url-s3cret', 'q-s3cret', 'opt-s3cret'];

describe('secrets', () => {
  it('describeConfig hides passwords, URL credentials and header values, keeps the rest readable', () => {
    const config = resolveConfig(
      {
        runtime_agent: {
          observation_store: {
            type: 'postgres',
            postgres: {
              url: 'postgres://stella:url-s3cret@db:5432/stella?sslmode=require&password=q-s3cret',
              host: 'db',
              password: 'pg-s3cret',
            },
            valkey: { url: 'rediss://:valkey-s3cret@cache:6380/1', password: 'valkey-s3cret' },
          },
          telemetry: { otlp: { endpoint: 'https://collector:4317', headers: { authorization: 'Bearer hdr-s3cret' } } },
        },
        plugins: [{ module: './p.js', options: { api_token: 'opt-s3cret', region: 'eu' } }],
      },
      { configDir: '/etc/stella', env: {} },
    );
    const described = describeConfig(config);
    const text = JSON.stringify(described);
    for (const secret of SECRETS) expect(text).not.toContain(secret);
    expect(described.runtimeAgent.observationStore.postgres).toMatchObject({
      url: 'postgres://stella:***@db:5432/stella?sslmode=require&password=***',
      host: 'db',
      password: '***',
    });
    expect(described.runtimeAgent.observationStore.valkey.url).toBe('rediss://:***@cache:6380/1');
    expect(described.runtimeAgent.telemetry.otlp).toMatchObject({
      endpoint: 'https://collector:4317',
      headers: { authorization: '***' },
    });
    expect(described.plugins).toEqual([{ module: './p.js', options: { api_token: '***', region: 'eu' } }]);
    // The original is untouched: the agent still needs the real password.
    expect(config.runtimeAgent.observationStore.postgres.password).toBe('pg-s3cret');
  });

  it('error messages never echo a secret, from a file or from the environment', async () => {
    const problems = collectConfigProblems({
      runtime_agent: {
        observation_store: {
          postgres: { url: 'mysql://root:url-s3cret@db/x', password: 12345, user: 'u' },
          valkey: { url: 'redis://:valkey-s3cret@' },
        },
        telemetry: { otlp: { headers: { 'x-api-key': ['hdr-s3cret'] } } },
      },
    });
    expect(problems).toEqual([
      {
        path: 'runtime_agent.observation_store.postgres.url',
        message: 'must be a postgres:// or postgresql:// URL, got "mysql://root:***@db/x"',
      },
      {
        path: 'runtime_agent.observation_store.postgres.password',
        message: 'must be a string, got a hidden value',
      },
      {
        path: 'runtime_agent.telemetry.otlp.headers["x-api-key"]',
        message: 'must be a string, got a hidden value',
      },
      {
        path: 'runtime_agent.observation_store.valkey.url',
        message: 'must be a URL with a host, got "redis://:***@"',
      },
    ]);

    const error = await configErrorOf(() =>
      loadConfig({
        configPath: new URL('./fixtures/runbook/stella.config.yaml', import.meta.url).pathname,
        env: { STELLA_POSTGRES_URL: 'postgresql://stella:pg-s3cret@/db', STELLA_OBSERVATION_STORE_TYPE: 'postgres' },
      }),
    );
    expect(error.problems).toEqual([
      {
        path: 'env STELLA_POSTGRES_URL',
        message:
          'must be a URL with a host, got "postgresql://stella:***@/db" (sets runtime_agent.observation_store.postgres.url)',
      },
    ]);
    expect(error.message).not.toContain('pg-s3cret');
  });
});
