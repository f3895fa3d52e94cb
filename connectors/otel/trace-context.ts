/**
 * Where an attribution span goes in the trace graph, from the W3C ids the logged record carries.
 *
 * - trace id and span id: the logged LLM span, rebuilt as a remote SpanContext (sampled). In
 *   `child` mode the attribution span is its child and also links to it; in `link` mode it
 *   starts a new trace that links to it.
 * - trace id only: no span to parent or link to. In `child` mode the attribution span joins the
 *   logged trace as a root span (same trace id, no parent), so looking the trace up finds it;
 *   in `link` mode it starts a new trace and records `reagent.source.trace_id`.
 * - neither: a new trace; `gen_ai.response.id` and `reagent.record.id` identify the call.
 *
 * - late: an attribution that starts more than `late_after_ms` after the logged call (the
 *   record's timestamp) never joins the logged trace, whatever the mode: it starts a new trace
 *   that links to the logged span (and records `reagent.source.trace_id` and `reagent.late_ms`),
 *   so a replayed week-old log does not stretch its trace by a week.
 *
 * Ids are accepted in any letter case, and 0x-prefixed or dashed forms are normalised; invalid
 * ids (wrong length, not hex, all zeros) count as absent.
 *
 * @see docs/otel.md
 */
import { INVALID_SPANID, INVALID_TRACEID, TraceFlags, isValidSpanId, isValidTraceId, type SpanContext } from "@opentelemetry/api";
import type { RecordContext } from "../../schemas/attribution-result.js";
import type { ParentRelation } from "./attributes.js";

export type SpanParentMode = "child" | "link";

export interface ParentPlan {
  readonly relation: ParentRelation;
  /** The logged span as a remote context (relation "span"). */
  readonly logged?: SpanContext;
  /** Make the span a child of `logged` (child mode). */
  readonly asChild: boolean;
  /** Reuse this trace id for a root span (trace-only, child mode). */
  readonly joinTraceId?: string;
  /** Recorded as reagent.source.trace_id (link mode, or late). */
  readonly sourceTraceId?: string;
  /** How late the attribution started after the logged call, when over the threshold. */
  readonly lateMs?: number;
}

export interface Lateness {
  /** When the attribution started (epoch ms). */
  readonly startedAtMs: number;
  /** Over this many ms after the logged call, the span goes on a new, linked trace; 0: never. */
  readonly lateAfterMs: number;
}

/** Milliseconds from the logged call to the attribution, when that is over the threshold. */
export function lateBy(ctx: RecordContext, lateness: Lateness | undefined): number | undefined {
  if (lateness === undefined || lateness.lateAfterMs <= 0 || ctx.record_timestamp === null) return undefined;
  const logged = Date.parse(ctx.record_timestamp);
  if (!Number.isFinite(logged)) return undefined;
  const late = lateness.startedAtMs - logged;
  return late > lateness.lateAfterMs ? late : undefined;
}

/** Lower-case hex with 0x and dashes removed, or undefined when that is not a valid id of `len` hex digits. */
export function normalizeId(raw: string | null | undefined, len: 16 | 32): string | undefined {
  if (raw === null || raw === undefined) return undefined;
  const hex = raw.trim().toLowerCase().replace(/^0x/, "").replace(/-/g, "");
  if (hex.length !== len) return undefined;
  if (len === 32) return isValidTraceId(hex) && hex !== INVALID_TRACEID ? hex : undefined;
  return isValidSpanId(hex) && hex !== INVALID_SPANID ? hex : undefined;
}

export function planParent(ctx: RecordContext, mode: SpanParentMode, lateness?: Lateness): ParentPlan {
  const traceId = normalizeId(ctx.trace_id, 32);
  const spanId = normalizeId(ctx.span_id, 16);
  const lateMs = traceId === undefined ? undefined : lateBy(ctx, lateness);
  if (lateMs !== undefined && traceId !== undefined) {
    const logged: SpanContext | undefined = spanId === undefined ? undefined : { traceId, spanId, traceFlags: TraceFlags.SAMPLED, isRemote: true };
    return { relation: spanId === undefined ? "trace" : "span", ...(logged ? { logged } : {}), asChild: false, sourceTraceId: traceId, lateMs };
  }
  if (traceId !== undefined && spanId !== undefined) {
    const logged: SpanContext = { traceId, spanId, traceFlags: TraceFlags.SAMPLED, isRemote: true };
    return { relation: "span", logged, asChild: mode === "child" };
  }
  if (traceId !== undefined) {
    return mode === "child" ? { relation: "trace", asChild: false, joinTraceId: traceId } : { relation: "trace", asChild: false, sourceTraceId: traceId };
  }
  return { relation: "none", asChild: false };
}
