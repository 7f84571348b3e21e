// SPDX-License-Identifier: Apache-2.0
import { type Attributes, SpanKind, type Tracer } from '@opentelemetry/api';
import type { Observation } from '@stella/sdk';

/**
 * Span attributes of one observation, in OTel semantic-convention names where one exists
 * (https://opentelemetry.io/docs/specs/semconv/) and `stella.*` for the rest.
 *
 * - `service.name` is the *observed* service, set on the span: the agent's own resource says
 *   `stella-agent`. The shipped collector pipeline (groupbyattrs) moves it to the resource so trace
 *   backends list spans under the observed service.
 * - `process.executable.path` is set only when the probed binary is the executable itself (node's
 *   static OpenSSL); a shared library's path is not the process's executable and goes to
 *   `stella.binary_path` (always set).
 * - `code.function.name` (semconv ≥ 1.30) and the older `code.function` both carry the symbol, so
 *   backends on either convention show it.
 */
export function observationAttributes(o: Observation): Attributes {
  const attributes: Attributes = {
    'service.name': o.service,
    'process.pid': o.pid,
    'process.command': o.comm,
    'process.executable.name': o.comm,
    'code.function.name': o.symbol,
    'code.function': o.symbol,
    'host.name': o.nodeName,
    'stella.function': o.function,
    'stella.binary_path': o.binaryPath,
    'stella.probe_type': o.probeType,
    'stella.hit_count': o.hitCount,
  };
  if (!isSharedObject(o.binaryPath)) attributes['process.executable.path'] = o.binaryPath;
  if (o.tid !== undefined) attributes['thread.id'] = o.tid;
  if (o.containerId) attributes['container.id'] = o.containerId;
  if (o.nodeHash) attributes['stella.node_hash'] = o.nodeHash;
  if (o.purl) attributes['stella.purl'] = o.purl;
  if (o.buildId) attributes['stella.build_id'] = o.buildId;
  if (o.cgroupId) attributes['stella.cgroup_id'] = o.cgroupId;
  if (o.sampleRate !== undefined) attributes['stella.sample_rate'] = o.sampleRate;
  if (o.windowStart) attributes['stella.window_start'] = o.windowStart;
  if (o.windowEnd) attributes['stella.window_end'] = o.windowEnd;
  return attributes;
}

function isSharedObject(path: string): boolean {
  const base = path.slice(path.lastIndexOf('/') + 1);
  return /\.so(\.|$)/.test(base);
}

/**
 * Emits one span per sampled observation. An observation is a call that already happened and
 * whose duration the probe did not measure (a uprobe sees the entry only), so the span starts and
 * ends at `observedAt`: a zero-length span marking when the call was seen. Aggregated records carry
 * the window in `stella.window_start`/`stella.window_end` and the count in `stella.hit_count`.
 *
 * Sampling is decided here, before attributes are built, because per-event work in JS is what
 * stalls the event loop at high rates; the SDK's sampler is AlwaysOn.
 */
export function emitObservationSpans(
  tracer: Tracer,
  batch: readonly Observation[],
  samplingRatio: number,
  random: () => number = Math.random,
): number {
  if (samplingRatio <= 0) return 0;
  let emitted = 0;
  for (const o of batch) {
    if (samplingRatio < 1 && random() >= samplingRatio) continue;
    const at = Date.parse(o.observedAt);
    const time = Number.isNaN(at) ? Date.now() : at;
    const span = tracer.startSpan(o.function, {
      kind: SpanKind.INTERNAL,
      startTime: time,
      attributes:
        samplingRatio < 1
          ? { ...observationAttributes(o), 'stella.span_sampling_ratio': samplingRatio }
          : observationAttributes(o),
    });
    span.end(time);
    emitted++;
  }
  return emitted;
}
