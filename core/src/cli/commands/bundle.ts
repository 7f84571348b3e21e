// SPDX-License-Identifier: Apache-2.0
import type { Command } from 'commander';
import { createBundle } from '../../bundle/create.js';
import { type BundleSignatureStatus, verifyBundle } from '../../bundle/open.js';

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;
const collect = (value: string, previous: string[] = []) => [...previous, value];

function describeSignature(signature: BundleSignatureStatus): string {
  switch (signature.status) {
    case 'verified':
      return `signature verified (keyid ${signature.keyid})`;
    case 'unsigned':
      return 'not signed';
    case 'not-checked':
      return `signed by keyid ${signature.keyids.join(', ')}, signature NOT checked (pass --key to check it)`;
  }
}

export function register(program: Command): void {
  const bundle = program
    .command('bundle')
    .description('air-gap bundles: function map, observations and report in one tar.gz with a digest manifest');

  bundle
    .command('create')
    .description('pack a function map, observations and an optional report with a sha256 manifest, optionally signed')
    .requiredOption('--function-map <file>', 'function map (JSON)')
    .requiredOption(
      '--observations <dir-or-file...>',
      'observation directories (walked for *.ndjson, *.jsonl, optionally .gz) or files',
      collect,
    )
    .option('--report <file>', 'verification report to include')
    .option('--sign-key <file>', 'private key: sign the manifest as manifest.dsse.json')
    .option('--output <file>', 'bundle to write', 'linkage-bundle.tgz')
    .action(
      async (options: {
        functionMap: string;
        observations: string[];
        report?: string;
        signKey?: string;
        output: string;
      }) => {
        const manifest = await createBundle({
          ...options,
          warn: (message) => process.stderr.write(`stella: warning: ${message}\n`),
        });
        const bytes = manifest.files.reduce((sum, f) => sum + f.size, 0);
        process.stdout.write(
          `wrote ${options.output}: ${plural(manifest.files.length, 'file')} (${plural(manifest.observations.length, 'observation file')}, ` +
            `${bytes} bytes), manifest ${options.signKey ? 'signed' : 'not signed'}\n`,
        );
      },
    );

  bundle
    .command('verify')
    .description(
      'check a bundle offline: safe to extract, every sha256 and size, no missing or extra file, and the signature; ' +
        'exit 0 valid, 1 failed, 2 bad input',
    )
    .requiredOption('--bundle <file>', 'bundle (tar.gz)')
    .option('--key <file>', 'public key: require a manifest signature that verifies with it')
    .action(async (options: { bundle: string; key?: string }) => {
      const verified = await verifyBundle(options.bundle, options.key === undefined ? {} : { key: options.key });
      await verified.cleanup();
      process.stdout.write(
        `verified ${options.bundle}: ${verified.manifest.files.length} files match the manifest, ` +
          `${describeSignature(verified.signature)}\n`,
      );
    });
}
