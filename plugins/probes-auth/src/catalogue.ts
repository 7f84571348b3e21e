// SPDX-License-Identifier: Apache-2.0
import type { CatalogueEntry } from '@stella/sdk';

/** Which SBOM components carry which functions of this plugin's categories (used by `generate`). */
export const catalogue: CatalogueEntry[] = [];
