// SPDX-License-Identifier: Apache-2.0
/** Types of build-bpf.mjs: building a plugin's BPF objects against the SDK's headers. */
export declare const includeDir: string;
export declare const vmlinuxDir: string;
export declare function ensureVmlinux(options?: { force?: boolean }): string;
export declare function buildBpfObject(
  source: string,
  options?: { output?: string; force?: boolean; log?: (message: string) => void },
): boolean;
export declare function buildPackageObjects(
  packageDir: string,
  options?: { force?: boolean; log?: (message: string) => void },
): string[];
