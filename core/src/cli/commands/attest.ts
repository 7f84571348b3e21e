// SPDX-License-Identifier: Apache-2.0
import { type Command, Option } from 'commander';
import { signFile, verifyFile } from '../../attest/files.js';
import { generateAttestationKeyPair, KEY_TYPES, writeAttestationKeyPair } from '../../attest/keys.js';
import { KNOWN_PAYLOAD_TYPES } from '../../attest/payload.js';
import type { AttestationKeyType } from '../../attest/types.js';
import { InputError } from '../../errors.js';
import { writeOutput } from '../../output.js';

export function register(program: Command): void {
  const attest = program
    .command('attest')
    .description('DSSE v1 envelopes: sign function maps and verification reports, verify them offline');

  attest
    .command('keygen')
    .description('generate a signing key pair: <name>.key (PKCS#8 PEM, mode 0600) and <name>.pub (SPKI PEM)')
    .addOption(new Option('--type <type>', 'key algorithm').choices(KEY_TYPES).default('ed25519'))
    .option('--out-dir <dir>', 'directory to write the key pair into', '.')
    .option('--name <name>', 'file name stem of the key pair', 'stella-attest')
    .option('--force', 'overwrite existing key files', false)
    .action(async (options: { type: AttestationKeyType; outDir: string; name: string; force: boolean }) => {
      const pair = generateAttestationKeyPair(options.type);
      const paths = await writeAttestationKeyPair(pair, options.outDir, options.name, options.force);
      process.stdout.write(
        `wrote ${options.type} key pair: private ${paths.privateKeyPath} (0600), public ${paths.publicKeyPath}, keyid ${pair.keyid}\n`,
      );
    });

  attest
    .command('sign')
    .description(
      'sign a function map (payload type application/vnd.stellaops.function-map.v1+json) or a verification report ' +
        '(in-toto Statement v1, application/vnd.in-toto+json) as a DSSE envelope',
    )
    .requiredOption('--input <file>', 'function map or verification report (JSON)')
    .addOption(new Option('--key <file>', 'private key (PEM; from `stella attest keygen`)').env('STELLA_ATTEST_KEY'))
    .option('--output <file>', 'envelope to write (default: <input>.dsse.json)')
    .addOption(new Option('--payload-type <type>', 'override the detected payload type').choices(KNOWN_PAYLOAD_TYPES))
    .action(async (options: { input: string; key?: string; output?: string; payloadType?: string }) => {
      if (options.key === undefined) {
        throw new InputError(
          'no signing key: pass --key FILE or set STELLA_ATTEST_KEY (make a key pair with `stella attest keygen`)',
        );
      }
      const output = options.output ?? `${options.input}.dsse.json`;
      const envelope = await signFile({ ...options, key: options.key, output });
      process.stdout.write(
        `signed ${options.input} as ${envelope.payloadType} with keyid ${envelope.signatures[0]?.keyid} -> ${output}\n`,
      );
    });

  attest
    .command('verify')
    .description(
      'verify a DSSE envelope with a public key; exit 0 valid, 1 invalid signature or payload type, 2 bad input',
    )
    .requiredOption('--input <file>', 'DSSE envelope (JSON)')
    .requiredOption('--key <file>', 'public key (PEM)')
    .option(
      '--payload-type <type>',
      `payload type the envelope must carry (default: ${KNOWN_PAYLOAD_TYPES.join(' or ')})`,
    )
    .option('--payload-output <file>', 'write the verified payload (decoded) to this file')
    .action(async (options: { input: string; key: string; payloadType?: string; payloadOutput?: string }) => {
      const verified = await verifyFile(options);
      if (options.payloadOutput) {
        await writeOutput(options.payloadOutput, verified.payload, {
          flag: '--payload-output',
          inputs: [options.input, options.key],
        });
      }
      process.stdout.write(
        `verified ${options.input}: payload type ${verified.payloadType}` +
          (verified.predicateType ? `, predicate type ${verified.predicateType}` : '') +
          `, signed by keyid ${verified.keyid}\n`,
      );
    });
}
