// SPDX-License-Identifier: Apache-2.0
/**
 * Counts stay exact in count mode: for every catalogue function this machine's libssl, libcrypto,
 * libgnutls and libsodium export, the plugin's count (its real session: placement past
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
import { cryptoProbes } from '../src/index.js';

const LIBRARIES = ['libssl.so.3', 'libcrypto.so.3', 'libgnutls.so.30', 'libsodium.so.23'];
const skipReason = bpfUnavailableReason() ?? workloadUnavailable(PYTHON);
if (skipReason) console.warn(`skipping crypto exact counts: ${skipReason}`);

describe.skipIf(skipReason).each(COUNT_MODE_WINDOWS)(
  'crypto plugin in count mode ($what): every catalogue function counts what bpftrace counts',
  ({ window }) => {
    it('on libssl, libcrypto, libgnutls and libsodium, one process, one bpftrace', async () => {
      const { absent, rows } = await countCatalogueInCountMode({
        plugin: cryptoProbes(),
        bpf: createBpf(),
        catalogue,
        libraries: LIBRARIES,
        parts: ['tls', 'gnutls', 'sodium'],
        aggregationWindowMs: window,
      });
      console.log(
        `crypto, count mode, window ${window} ms (absent here: ${absent.join(', ') || 'none'})\n${formatCountedCalls(rows)}`,
      );
      expect(countGaps(rows)).toEqual([]);
      // Placement applied (countGaps found every probe attached): the hot single-stepped entries are
      // probed past them.
      expect(rows.filter((r) => r.placement.startsWith('entry+')).length).toBeGreaterThan(0);
      expect(rows.find((r) => r.symbol === 'EVP_DigestUpdate')?.placement).toMatch(/^entry\+\d+/);
      // Without an aggregation window the hot functions take the count-only path (no record per
      // call, one per window) and the rest one record per call: both are checked above.
      const countedInKernel = rows.filter((r) => r.countedInKernel).map((r) => r.symbol);
      if (window === 0) expect(countedInKernel).toEqual(expect.arrayContaining(['EVP_DigestUpdate', 'SSL_read']));
      else expect(countedInKernel).toEqual([]);
    });
  },
);
