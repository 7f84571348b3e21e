// SPDX-License-Identifier: Apache-2.0
import { describe, expect, it } from 'vitest';
import { createLogger } from '../src/logger.js';

function capture(format: 'text' | 'json' = 'text') {
  const lines: string[] = [];
  const stream = { write: (s: string) => lines.push(s) > 0 } as unknown as NodeJS.WritableStream;
  return { logger: createLogger({ level: 'info', format, stream }), lines };
}

describe('logger', () => {
  it('never prints passwords or URL credentials, in text or JSON', () => {
    for (const format of ['text', 'json'] as const) {
      const { logger, lines } = capture(format);
      logger.child({ scope: 'store:postgres' }).warn('store unreachable', {
        url: 'postgres://stella:hunter2@db:5432/obs',
        postgres: { host: 'db', password: 'hunter2' },
        headers: { authorization: 'Bearer abc' },
      });
      const out = lines.join('');
      expect(out).not.toContain('hunter2');
      expect(out).not.toContain('Bearer abc');
      expect(out).toContain('postgres://stella:***@db:5432/obs');
      expect(out).toContain('store unreachable');
    }
  });

  it('drops lines below the level and keeps error messages', () => {
    const lines: string[] = [];
    const stream = { write: (s: string) => lines.push(s) > 0 } as unknown as NodeJS.WritableStream;
    const logger = createLogger({ level: 'warn', format: 'text', stream });
    logger.info('hidden');
    logger.error('attach failed', { error: new Error('ENOENT') });
    expect(lines).toEqual(['error attach failed error="ENOENT"\n']);
  });
});
