// SPDX-License-Identifier: Apache-2.0
export { MAX_SKIPPED_INSTRUCTIONS } from './choose.js';
export { type KernelHandling, kernelHandling } from './kernel-emulation.js';
export { choosePlacement, choosePlacements, UprobePlacer, type UprobePlacerOptions } from './placer.js';
export type { PlacementOptions, PlacementTarget, UprobePlacement } from './types.js';
