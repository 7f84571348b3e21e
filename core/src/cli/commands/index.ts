// SPDX-License-Identifier: Apache-2.0
import type { Command } from 'commander';

type CommandGroup = () => Promise<{ register(program: Command): void }>;

/**
 * Each command group lives in its own file exporting `register(program)`, loaded only when its
 * command is run (or for help): the agent process, which runs for weeks on every node, must not
 * hold the signing, bundling, SBOM and store-query code of the other commands in memory. Add a
 * group with one line below; the key is its command name.
 */
const COMMAND_GROUPS: Record<string, CommandGroup> = {
  agent: () => import('./agent.js'),
  attest: () => import('./attest.js'),
  bundle: () => import('./bundle.js'),
  cbom: () => import('./cbom.js'),
  demo: () => import('./demo.js'),
  doctor: () => import('./doctor.js'),
  'function-map': () => import('./function-map.js'),
  plugins: () => import('./plugins.js'),
  observations: () => import('./observations.js'),
  sbom: () => import('./sbom.js'),
};

/**
 * Registers the group `argv` names (its first word after the program), or every group when it
 * names none of them (help, `--version`, a typo commander should answer with a suggestion).
 */
export async function registerCommandGroups(program: Command, argv: readonly string[]): Promise<void> {
  const word = argv.slice(2).find((a) => !a.startsWith('-'));
  const names = word !== undefined && Object.hasOwn(COMMAND_GROUPS, word) ? [word] : Object.keys(COMMAND_GROUPS);
  for (const group of await Promise.all(names.map((name) => COMMAND_GROUPS[name]!()))) group.register(program);
}
