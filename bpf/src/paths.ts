// SPDX-License-Identifier: Apache-2.0
/** Where plugins find the shared headers when compiling their .bpf.c (see scripts/build.mjs). */
import { join } from 'node:path';
import { packageDir } from './native.js';

/** `-I` for `#include "stella/…"`. */
export const bpfIncludeDir = join(packageDir, 'include');
/** `-I` for the generated `vmlinux.h`. */
export const vmlinuxIncludeDir = join(packageDir, 'vmlinux');
/** The build script (`node <this>` = `npm run build:bpf`). */
export const buildScript = join(packageDir, 'scripts', 'build.mjs');
