// SPDX-License-Identifier: Apache-2.0
/**
 * `/metrics` has no authentication (issue #13): it binds to loopback unless configured, and a bind
 * beyond loopback is logged as a warning naming the host.
 */
import { describe, expect, it } from 'vitest';
import { resolveConfig } from '../../src/config/index.js';
import { createLogger } from '../../src/logger.js';
import { createTelemetry } from '../../src/telemetry/index.js';

async function warningsFor(host: string): Promise<string> {
  let text = '';
  const stream = { write: (s: string) => (text += s) } as unknown as NodeJS.WritableStream;
  const t = await createTelemetry({
    nodeName: 'n',
    prometheus: { enabled: true, host, port: 0 },
    logger: createLogger({ level: 'warn', stream }),
  });
  await t.shutdown();
  return text;
}

describe('/metrics bind address', () => {
  it('defaults to loopback', () => {
    const config = resolveConfig({}, { configDir: '/etc/stella', env: {} });
    expect(config.runtimeAgent.telemetry.prometheus.host).toBe('127.0.0.1');
  });

  it('loopback binds are quiet; a wildcard bind is a warning naming the host', async () => {
    expect(await warningsFor('127.0.0.1')).toBe('');
    expect(await warningsFor('0.0.0.0')).toBe(
      'warn [telemetry] prometheus endpoint is reachable beyond this node: /metrics has no authentication host=0.0.0.0\n',
    );
  });
});
