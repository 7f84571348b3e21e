// SPDX-License-Identifier: Apache-2.0
import 'reflect-metadata';
import { Command, CommanderError } from 'commander';
import { redactSecrets } from '../config/secrets.js';
import { exitCodeOf, StellaError } from '../errors.js';
import { VERSION } from '../version.js';
import { registerCommandGroups } from './commands/index.js';

export { VERSION };

/** The program with the command groups `argv` needs (all of them for help); see commands/index.ts. */
export async function buildProgram(argv: readonly string[] = process.argv): Promise<Command> {
  const program = new Command('stella')
    .description('Stella runtime linkage: prove from the kernel which security-relevant functions a service runs')
    .version(VERSION)
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();
  await registerCommandGroups(program, argv);
  // Every sub-command reports usage errors through the same exit code path.
  const exitOverrideAll = (cmd: Command) => {
    cmd.exitOverride();
    cmd.commands.forEach(exitOverrideAll);
  };
  exitOverrideAll(program);
  return program;
}

/** The one top-level catch: error classes → exit codes (0 ok, 1 verification failed, 2 bad input). */
export async function main(argv: string[] = process.argv): Promise<number> {
  try {
    const program = await buildProgram(argv);
    await program.parseAsync(argv);
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (error) {
    if (error instanceof CommanderError) {
      if (error.code === 'commander.helpDisplayed' || error.code === 'commander.version') return 0;
      if (error.code === 'commander.help') return 0;
      return 2; // commander already printed the sentence
    }
    if (error instanceof StellaError) {
      process.stderr.write(`stella: ${redactSecrets(error.message)}\n`);
      return exitCodeOf(error);
    }
    // A bug: one line for the user; the stack only when asked for, since it can carry input text.
    const debug = process.env.STELLA_DEBUG === '1';
    const text = error instanceof Error ? (debug ? (error.stack ?? error.message) : error.message) : String(error);
    process.stderr.write(
      `stella: internal error: ${redactSecrets(text)}${debug ? '' : ' (a bug: STELLA_DEBUG=1 shows where)'}\n`,
    );
    return exitCodeOf(error);
  }
}
