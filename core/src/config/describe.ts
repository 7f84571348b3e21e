// SPDX-License-Identifier: Apache-2.0
import type { StellaPlugin } from '@stella/sdk';
import { redactValue } from './secrets.js';
import { isPluginObject } from './semantic.js';
import type { ResolvedConfig } from './types.js';

/** A printable copy of a config: secrets hidden, plugin objects reduced to their name. */
export type DescribedConfig = Omit<ResolvedConfig, 'plugins'> & {
  plugins: (string | { module: string; options: Record<string, unknown> })[] | '(built-in)';
};

/**
 * The configuration as it may appear in logs and `--print-config`: passwords and header values
 * `***`, the password part of URLs `***`, plugin objects as `probe:<name>` / `store:<type>`.
 */
export function describeConfig(config: ResolvedConfig): DescribedConfig {
  const { plugins, ...rest } = config;
  return {
    ...(redactValue(rest, '') as Omit<ResolvedConfig, 'plugins'>),
    plugins:
      plugins === undefined
        ? '(built-in)'
        : plugins.map((p) =>
            isPluginObject(p)
              ? pluginLabel(p)
              : { module: p.module, options: redactValue(p.options, 'options') as Record<string, unknown> },
          ),
  };
}

function pluginLabel(plugin: StellaPlugin): string {
  return plugin.kind === 'probe' ? `probe:${plugin.name}` : `store:${plugin.type}`;
}
