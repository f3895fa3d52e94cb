/**
 * The span envelope both span presets read: attributes (an object, or an OTLP KeyValue list),
 * trace and span ids and the start time, under the names the common span exports use — OTLP
 * JSON (`traceId`, `spanId`, `startTimeUnixNano`, `attributes`), the OTel Collector ClickHouse
 * exporter's rows (`TraceId`, `SpanId`, `Timestamp`, `SpanAttributes`), the Python console
 * exporter (`context.trace_id`, `start_time`) and snake_case variants.
 */
import type { MappingIssues} from "../common.js";
import { isRecord, normaliseHexId } from "../common.js";
import { isOtlpKeyValueList, otlpAttributesToObject } from "../paths.js";

export interface SpanEnvelope {
  readonly attrs: Record<string, unknown>;
  readonly attrsPath: string;
  readonly traceId: unknown;
  readonly spanId: unknown;
  readonly start: unknown;
  readonly name: string | undefined;
}

const ATTR_KEYS = ["attributes", "SpanAttributes", "span_attributes", "attrs"] as const;

export function spanAttributes(doc: unknown): { attrs: Record<string, unknown>; path: string } | undefined {
  if (!isRecord(doc)) return undefined;
  for (const k of ATTR_KEYS) {
    const a = doc[k];
    if (isOtlpKeyValueList(a)) return { attrs: otlpAttributesToObject(a), path: k };
    if (isRecord(a)) return { attrs: a, path: k };
  }
  return undefined;
}

export function readSpan(doc: unknown, issues: MappingIssues): SpanEnvelope | undefined {
  if (!isRecord(doc)) {
    issues.add("", "expected a span as a JSON object");
    return undefined;
  }
  if (Array.isArray(doc.resourceSpans)) {
    issues.add("resourceSpans", "an OTLP export request holds many spans; log one span per record (e.g. with the collector's kafka exporter, encoding otlp_json per span)");
    return undefined;
  }
  const a = spanAttributes(doc);
  if (!a) {
    issues.add("attributes", "missing: expected span attributes (an object or an OTLP KeyValue list)");
    return undefined;
  }
  const ctx = isRecord(doc.context) ? doc.context : {};
  const traceRaw = doc.traceId ?? doc.trace_id ?? doc.TraceId ?? ctx.trace_id ?? ctx.traceId;
  const spanRaw = doc.spanId ?? doc.span_id ?? doc.SpanId ?? ctx.span_id ?? ctx.spanId;
  const name = doc.name ?? doc.SpanName ?? doc.span_name;
  return {
    attrs: a.attrs,
    attrsPath: a.path,
    traceId: normaliseHexId(traceRaw, 16),
    spanId: normaliseHexId(spanRaw, 8),
    start: doc.startTimeUnixNano ?? doc.start_time_unix_nano ?? doc.Timestamp ?? doc.start_time ?? doc.startTime ?? doc.timestamp,
    name: typeof name === "string" ? name : undefined,
  };
}

/** Record id for a span: the response id when logged, else `<trace_id>-<span_id>`. */
export function spanRecordId(responseId: unknown, span: SpanEnvelope): unknown {
  if (typeof responseId === "string" && responseId.length > 0) return responseId;
  if (typeof span.traceId === "string" && typeof span.spanId === "string") return `${span.traceId}-${span.spanId}`;
  return undefined;
}
