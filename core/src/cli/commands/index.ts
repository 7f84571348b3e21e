// SPDX-License-Identifier: Apache-2.0
import type { Command } from 'commander';
import { register as registerAgent } from './agent.js';
import { register as registerAttest } from './attest.js';
import { register as registerBundle } from './bundle.js';
import { register as registerDemo } from './demo.js';
import { register as registerDoctor } from './doctor.js';
import { register as registerFunctionMap } from './function-map.js';
import { register as registerObservations } from './observations.js';
import { register as registerPlugins } from './plugins.js';
import { register as registerSbom } from './sbom.js';

/**
 * Each command group lives in its own file (`function-map.ts`, `observations.ts`, `attest.ts`,
 * `bundle.ts`, `agent.ts`, `doctor.ts`, `plugins.ts`) exporting `register(program)`.
 * Add a group with one import and one line below.
 */
export function registerCommandGroups(program: Command): void {
  registerAgent(program);
  registerAttest(program);
  registerBundle(program);
  registerDemo(program);
  registerDoctor(program);
  registerFunctionMap(program);
  registerPlugins(program);
  registerObservations(program);
  registerSbom(program);
}
