// SPDX-License-Identifier: Apache-2.0
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LearningController } from '../../src/agent/learning.js';
import { collectConfigProblems, resolveConfig, validateUserConfig } from '../../src/config/index.js';
import { parseFunctionMap } from '../../src/function-map/parse.js';
import type { FunctionMap } from '../../src/function-map/types.js';
import { createLogger } from '../../src/logger.js';
import { VerificationAccumulator } from '../../src/verify/accumulator.js';
import type { LearningStatus } from '../../src/verify/types.js';
import { call, LIBSSL, makeMap, obs, path, SERVICE } from '../function-map/helpers.js';

const SSL = '/usr/lib/x86_64-linux-gnu/libssl.so.3';
const connect = call('tls/SSL_connect', LIBSSL, SSL);
const accept = call('tls/SSL_accept', LIBSSL, SSL);
const T0 = Date.parse('2024-05-01T12:00:00Z');
const at = (ms: number) => new Date(T0 + ms).toISOString();
const logger = createLogger({ level: 'silent', format: 'json' });

describe('runtime_agent.learning in the config', () => {
  it('resolves with defaults: window in ms, output against the config directory', () => {
    const config = validateUserConfig(
      {
        runtime_agent: {
          function_maps: ['shop.json'],
          learning: [{ service: 'shop', window: '24h', output: 'shop.learned.json' }],
        },
      },
      { source: 't' },
    );
    expect(resolveConfig(config, { configDir: '/cfg', env: {} }).runtimeAgent.learning).toEqual([
      {
        service: 'shop',
        windowMs: 86_400_000,
        output: '/cfg/shop.learned.json',
        dropUnobserved: false,
        acceptUnexpected: false,
      },
    ]);
  });

  it('names each shape mistake in one sentence with its key path', () => {
    const problems = collectConfigProblems({
      runtime_agent: {
        learning: [
          { service: 'shop', window: 'a day', output: 'x.json' },
          { service: 'cart', output: 'y.json' },
          { service: 'auth', window: '1h', output: 'z.json', accept_unexpected: 'yes' },
        ],
      },
    });
    expect(problems.map((p) => `${p.path}: ${p.message}`)).toEqual([
      'runtime_agent.learning[0].window: must be how long to learn from the agent\'s start, e.g. 24h, 30m, got "a day"',
      'runtime_agent.learning[1].window: is required',
      'runtime_agent.learning[2].accept_unexpected: must be true or false or a list, got "yes"',
    ]);
  });

  it('refuses a window under a second, a service learned twice, an output that is a map or shared', () => {
    const problems = collectConfigProblems({
      runtime_agent: {
        function_maps: ['maps/shop.json'],
        learning: [
          { service: 'shop', window: '1h', output: 'x.json' },
          { service: 'shop', window: '500ms', output: 'maps/shop.json' },
          { service: 'cart', window: '1h', output: './x.json' },
        ],
      },
    });
    expect(problems.map((p) => `${p.path}: ${p.message}`)).toEqual([
      'runtime_agent.learning[1].window: must be at least 1s, got "500ms"',
      'runtime_agent.learning[1].service: learns "shop" again: runtime_agent.learning[0] already does; one entry per service',
      'runtime_agent.learning[1].output: is one of runtime_agent.function_maps: the refined map is written beside the map it refines, never over it',
      "runtime_agent.learning[2].output: is also runtime_agent.learning[0].output: each service's refined map needs its own file",
    ]);
  });
});

describe('LearningController', () => {
  let dir: string;
  let map: FunctionMap;
  let states: [string, LearningStatus][];
  let learned: FunctionMap[];
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'stella-learning-'));
    map = makeMap([path('tls-connect', ['tls'], [connect]), path('tls-accept', ['tls'], [accept])]);
    states = [];
    learned = [];
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  const controller = (output: string, inputs: string[] = []) =>
    new LearningController({
      specs: [{ service: SERVICE, windowMs: 60_000, output, dropUnobserved: false, acceptUnexpected: false }],
      maps: new Map([[SERVICE, map]]),
      inputs,
      logger,
      generator: { name: 'stella', version: 'test' },
      nodeName: 'node-a',
      onLearned: (_s, m) => learned.push(m),
      onState: (s, status) => states.push([s, status]),
    });

  it('learns over the window, writes a map under which the same workload passes, and says completed', async () => {
    const output = join(dir, 'learned.json');
    const c = controller(output);
    c.start(T0, () => []);
    expect(c.status(SERVICE)?.state).toBe('learning');
    const workload = [obs(connect, at(1_000)), obs(connect, at(30_000)), obs(connect, at(61_000))];
    c.add(workload);
    await c.tick(T0 + 59_000);
    expect(c.isLearning(SERVICE)).toBe(true);
    await c.tick(T0 + 60_000);
    expect(states.map(([, s]) => s.state)).toEqual(['learning', 'completed']);

    const refined = parseFunctionMap(JSON.parse(await readFile(output, 'utf8')), output);
    expect(learned).toEqual([refined]);
    expect(refined.predicate.expectedPaths.map((p) => [p.pathId, p.optional])).toEqual([
      ['tls-connect', false],
      ['tls-accept', true],
    ]);
    const provenance = refined.predicate.generatedFrom?.learning;
    expect(provenance).toMatchObject({ from: at(0), to: at(60_000), observationsInWindow: 2, node: 'node-a' });
    expect(provenance?.observationsDigest).toMatch(/^sha256:[0-9a-f]{64}$/);

    // The same workload, verified against the refined map: pass (against the loaded one: fail).
    const verify = (m: FunctionMap) => {
      const acc = new VerificationAccumulator(m, { from: new Date(T0), to: new Date(T0 + 60_000) });
      for (const o of workload) acc.add(o);
      return acc.report().verdict;
    };
    expect(verify(map)).toBe('fail');
    expect(verify(refined)).toBe('pass');
  });

  it('partial when target processes ran before the start, with why', async () => {
    const c = controller(join(dir, 'learned.json'));
    c.start(T0, () => [41, 42]);
    c.add([obs(connect, at(1_000))]);
    await c.tick(T0 + 60_000);
    expect(c.status(SERVICE)).toMatchObject({ state: 'partial' });
    expect(c.status(SERVICE)?.reason).toContain('2 target process(es) (pid 41, 42) were already running');
  });

  it("failed, with the writer's sentence, when the output is one of the maps it reads; nothing written", async () => {
    const input = join(dir, 'shop.json');
    await writeFile(input, JSON.stringify(map));
    const c = controller(input, [input]);
    c.start(T0, () => []);
    await c.tick(T0 + 60_000);
    expect(c.status(SERVICE)?.state).toBe('failed');
    expect(c.status(SERVICE)?.reason).toMatch(/shop\.json/);
    expect(learned).toEqual([]);
    expect(JSON.parse(await readFile(input, 'utf8'))).toEqual(JSON.parse(JSON.stringify(map)));
  });
});
