// SPDX-License-Identifier: Apache-2.0
/** Messages between the placer and its worker thread (structured clone). */
import type { PlacementOptions, PlacementTarget, UprobePlacement } from './types.js';

export interface PlacementRequest {
  id: number;
  path: string;
  targets: PlacementTarget[];
  options: PlacementOptions;
}

export type PlacementResponse =
  | { id: number; placements: (UprobePlacement | undefined)[]; error?: undefined }
  | { id: number; error: string; placements?: undefined };
