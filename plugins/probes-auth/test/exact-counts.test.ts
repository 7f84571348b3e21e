// SPDX-License-Identifier: Apache-2.0
/**
 * Counts stay exact in count mode: for every catalogue function this machine's libpam exports, the plugin's count (its real session: placement past
 * single-stepped entries, uprobe_multi links, the kernel's target filter, the ring buffer or the
 * in-kernel aggregates) equals a bpftrace entry-probe count on the same pid, while one process
 * calls them all. The workload loads its libraries after the session started (imports, ctypes),
 * so the first calls after each dlopen count too. Functions the workload cannot reach are listed
 * with why in `WORKLOAD_UNREACHED`; any other uncounted function fails. Run under the kernel lock.
 */
import { createBpf } from '@stella/bpf';
import {
  bpfUnavailableReason,
  COUNT_MODE_WINDOWS,
  countCatalogueInCountMode,
  countGaps,
  formatCountedCalls,
  PYTHON,
  workloadUnavailable,
} from '@stella/sdk/testing';
import { describe, expect, it } from 'vitest';
import { catalogue } from '../src/catalogue.js';
import { authProbes } from '../src/index.js';

const LIBRARIES = ['libpam.so.0'];
const skipReason = bpfUnavailableReason() ?? workloadUnavailable(PYTHON);
if (skipReason) console.warn(`skipping auth exact counts: ${skipReason}`);

describe.skipIf(skipReason).each(COUNT_MODE_WINDOWS)(
  'auth plugin in count mode ($what): every catalogue function counts what bpftrace counts',
  ({ window }) => {
    it('on libpam, one process, one bpftrace', async () => {
      const { absent, rows } = await countCatalogueInCountMode({
        plugin: authProbes(),
        bpf: createBpf(),
        catalogue,
        libraries: LIBRARIES,
        parts: ['pam'],
        aggregationWindowMs: window,
      });
      console.log(
        `auth, count mode, window ${window} ms (absent here: ${absent.join(', ') || 'none'})\n${formatCountedCalls(rows)}`,
      );
      expect(countGaps(rows)).toEqual([]);
    });
  },
);
