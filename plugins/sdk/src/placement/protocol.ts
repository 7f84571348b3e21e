// SPDX-License-Identifier: Apache-2.0
/** Messages between the placer and its worker thread (structured clone). */
import type { PlacementTarget, UprobePlacement } from './types.js';

export interface PlacementRequest {
  id: number;
  path: string;
  targets: PlacementTarget[];
}

export type PlacementResponse =
  | { id: number; placements: (UprobePlacement | undefined)[]; error?: undefined }
  | { id: number; error: string; placements?: undefined };
