// SPDX-License-Identifier: Apache-2.0
/** The placement worker thread: owns the per-file scans so decoding never runs on the event loop. */
import { parentPort } from 'node:worker_threads';
import { createFilePlacementCache } from './file-placement.js';
import type { PlacementRequest, PlacementResponse } from './protocol.js';

const cache = createFilePlacementCache();
const port = parentPort!;
port.on('message', (request: PlacementRequest) => {
  let response: PlacementResponse;
  try {
    response = { id: request.id, placements: cache.place(request.path, request.targets, request.options) };
  } catch (error) {
    response = { id: request.id, error: (error as Error).message };
  }
  port.postMessage(response);
});
