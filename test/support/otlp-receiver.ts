// SPDX-License-Identifier: Apache-2.0
/**
 * A real OTLP/gRPC receiver for tests: a @grpc/grpc-js server implementing the collector's
 * TraceService and MetricsService `Export` RPCs on a loopback port, decoding what the OTel SDK sends.
 *
 * The schema below is a subset of opentelemetry-proto (trace, metrics, common, resource), written
 * from the published field numbers; fields we do not read are left out, which protobuf skips on
 * decode. Service and package names must match the real ones: they form the gRPC method path.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';

const MESSAGES_PROTO = `
syntax = "proto3";
package stella.test.otlp;
message AnyValue {
  oneof value {
    string string_value = 1; bool bool_value = 2; int64 int_value = 3; double double_value = 4;
    ArrayValue array_value = 5; KeyValueList kvlist_value = 6; bytes bytes_value = 7;
  }
}
message ArrayValue { repeated AnyValue values = 1; }
message KeyValueList { repeated KeyValue values = 1; }
message KeyValue { string key = 1; AnyValue value = 2; }
message InstrumentationScope { string name = 1; string version = 2; repeated KeyValue attributes = 3; }
message Resource { repeated KeyValue attributes = 1; }
message Span {
  bytes trace_id = 1; bytes span_id = 2; string trace_state = 3; bytes parent_span_id = 4;
  string name = 5; int32 kind = 6; fixed64 start_time_unix_nano = 7; fixed64 end_time_unix_nano = 8;
  repeated KeyValue attributes = 9; fixed32 flags = 16;
}
message ScopeSpans { InstrumentationScope scope = 1; repeated Span spans = 2; }
message ResourceSpans { Resource resource = 1; repeated ScopeSpans scope_spans = 2; }
message ExportTraceServiceRequest { repeated ResourceSpans resource_spans = 1; }
message ExportTraceServiceResponse {}
message NumberDataPoint {
  repeated KeyValue attributes = 7; fixed64 start_time_unix_nano = 2; fixed64 time_unix_nano = 3;
  oneof value { double as_double = 4; sfixed64 as_int = 6; }
}
message Gauge { repeated NumberDataPoint data_points = 1; }
message Sum { repeated NumberDataPoint data_points = 1; int32 aggregation_temporality = 2; bool is_monotonic = 3; }
message Metric {
  string name = 1; string description = 2; string unit = 3;
  oneof data { Gauge gauge = 5; Sum sum = 7; }
}
message ScopeMetrics { InstrumentationScope scope = 1; repeated Metric metrics = 2; }
message ResourceMetrics { Resource resource = 1; repeated ScopeMetrics scope_metrics = 2; }
message ExportMetricsServiceRequest { repeated ResourceMetrics resource_metrics = 1; }
message ExportMetricsServiceResponse {}
`;
const TRACE_SERVICE_PROTO = `
syntax = "proto3";
package opentelemetry.proto.collector.trace.v1;
import "messages.proto";
service TraceService {
  rpc Export(stella.test.otlp.ExportTraceServiceRequest) returns (stella.test.otlp.ExportTraceServiceResponse) {}
}
`;
const METRICS_SERVICE_PROTO = `
syntax = "proto3";
package opentelemetry.proto.collector.metrics.v1;
import "messages.proto";
service MetricsService {
  rpc Export(stella.test.otlp.ExportMetricsServiceRequest) returns (stella.test.otlp.ExportMetricsServiceResponse) {}
}
`;

export type AttributeValue = string | number | boolean | AttributeValue[] | { [key: string]: AttributeValue } | Buffer;

export interface ReceivedSpan {
  name: string;
  /** OTLP SpanKind number (1 internal, 2 server, 3 client, …). */
  kind: number;
  traceId: string;
  spanId: string;
  startTimeUnixNano: bigint;
  endTimeUnixNano: bigint;
  attributes: Record<string, AttributeValue>;
  resource: Record<string, AttributeValue>;
  scope: string;
}

export interface ReceivedPoint {
  metric: string;
  unit: string;
  description: string;
  type: 'gauge' | 'sum';
  isMonotonic: boolean;
  value: number;
  attributes: Record<string, AttributeValue>;
  resource: Record<string, AttributeValue>;
  scope: string;
  timeUnixNano: bigint;
}

export interface OtlpReceiver {
  /** `http://127.0.0.1:PORT`, what an OTLP/gRPC exporter takes as `url`. */
  readonly endpoint: string;
  readonly spans: ReceivedSpan[];
  readonly points: ReceivedPoint[];
  /** gRPC metadata of every request, lower-case keys. */
  readonly requestMetadata: Record<string, string>[];
  /** Resolves with the first non-undefined result of `probe`, polling; rejects after `timeoutMs`. */
  waitFor<T>(probe: () => T | undefined, timeoutMs?: number, what?: string): Promise<T>;
  close(): Promise<void>;
}

type Decoded = Record<string, unknown>;

export async function startOtlpReceiver(): Promise<OtlpReceiver> {
  const dir = mkdtempSync(join(tmpdir(), 'stella-otlp-proto-'));
  let definition: protoLoader.PackageDefinition;
  try {
    writeFileSync(join(dir, 'messages.proto'), MESSAGES_PROTO);
    writeFileSync(join(dir, 'trace_service.proto'), TRACE_SERVICE_PROTO);
    writeFileSync(join(dir, 'metrics_service.proto'), METRICS_SERVICE_PROTO);
    definition = protoLoader.loadSync(['trace_service.proto', 'metrics_service.proto'], {
      includeDirs: [dir],
      keepCase: true,
      longs: String,
      defaults: true,
      oneofs: true,
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const loaded = grpc.loadPackageDefinition(definition) as unknown as {
    opentelemetry: {
      proto: {
        collector: {
          trace: { v1: { TraceService: grpc.ServiceClientConstructor } };
          metrics: { v1: { MetricsService: grpc.ServiceClientConstructor } };
        };
      };
    };
  };
  const collector = loaded.opentelemetry.proto.collector;

  const spans: ReceivedSpan[] = [];
  const points: ReceivedPoint[] = [];
  const requestMetadata: Record<string, string>[] = [];
  const recordMetadata = (call: grpc.ServerUnaryCall<unknown, unknown>) => {
    const md: Record<string, string> = {};
    for (const [k, v] of Object.entries(call.metadata.getMap())) md[k] = String(v);
    requestMetadata.push(md);
  };

  const server = new grpc.Server();
  server.addService(collector.trace.v1.TraceService.service, {
    Export: (call: grpc.ServerUnaryCall<Decoded, unknown>, callback: grpc.sendUnaryData<unknown>) => {
      recordMetadata(call);
      for (const rs of list(call.request.resource_spans)) {
        const resource = attributesOf((rs.resource as Decoded | undefined)?.attributes);
        for (const ss of list(rs.scope_spans)) {
          const scope = String((ss.scope as Decoded | undefined)?.name ?? '');
          for (const s of list(ss.spans)) {
            spans.push({
              name: String(s.name),
              kind: Number(s.kind),
              traceId: (s.trace_id as Buffer).toString('hex'),
              spanId: (s.span_id as Buffer).toString('hex'),
              startTimeUnixNano: BigInt(String(s.start_time_unix_nano)),
              endTimeUnixNano: BigInt(String(s.end_time_unix_nano)),
              attributes: attributesOf(s.attributes),
              resource,
              scope,
            });
          }
        }
      }
      callback(null, {});
    },
  });
  server.addService(collector.metrics.v1.MetricsService.service, {
    Export: (call: grpc.ServerUnaryCall<Decoded, unknown>, callback: grpc.sendUnaryData<unknown>) => {
      recordMetadata(call);
      for (const rm of list(call.request.resource_metrics)) {
        const resource = attributesOf((rm.resource as Decoded | undefined)?.attributes);
        for (const sm of list(rm.scope_metrics)) {
          const scope = String((sm.scope as Decoded | undefined)?.name ?? '');
          for (const m of list(sm.metrics)) {
            const type = m.data === 'gauge' ? 'gauge' : m.data === 'sum' ? 'sum' : undefined;
            if (!type) continue;
            const data = m[type] as Decoded;
            for (const p of list(data.data_points)) {
              points.push({
                metric: String(m.name),
                unit: String(m.unit),
                description: String(m.description),
                type,
                isMonotonic: Boolean(data.is_monotonic),
                value: p.value === 'as_int' ? Number(p.as_int) : Number(p.as_double),
                attributes: attributesOf(p.attributes),
                resource,
                scope,
                timeUnixNano: BigInt(String(p.time_unix_nano)),
              });
            }
          }
        }
      }
      callback(null, {});
    },
  });

  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (error, bound) =>
      error ? reject(error) : resolve(bound),
    ),
  );

  return {
    endpoint: `http://127.0.0.1:${port}`,
    spans,
    points,
    requestMetadata,
    async waitFor<T>(probe: () => T | undefined, timeoutMs = 15_000, what = 'OTLP data'): Promise<T> {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const result = probe();
        if (result !== undefined) return result;
        if (Date.now() > deadline) {
          throw new Error(
            `timed out after ${timeoutMs} ms waiting for ${what} (have ${spans.length} spans, ${points.length} points)`,
          );
        }
        await new Promise((r) => setTimeout(r, 100));
      }
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.tryShutdown(() => resolve());
      }),
  };
}

function list(value: unknown): Decoded[] {
  return Array.isArray(value) ? (value as Decoded[]) : [];
}

function attributesOf(kvs: unknown): Record<string, AttributeValue> {
  const out: Record<string, AttributeValue> = {};
  for (const kv of list(kvs)) out[String(kv.key)] = anyValue(kv.value as Decoded | undefined);
  return out;
}

function anyValue(v: Decoded | undefined): AttributeValue {
  if (!v || typeof v.value !== 'string') return '';
  const field = v.value;
  const raw = v[field];
  switch (field) {
    case 'int_value':
      return Number(raw);
    case 'array_value':
      return list((raw as Decoded).values).map((x) => anyValue(x));
    case 'kvlist_value':
      return attributesOf((raw as Decoded).values);
    default:
      return raw as AttributeValue;
  }
}
