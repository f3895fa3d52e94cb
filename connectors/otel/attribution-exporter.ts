/**
 * The AttributionExporter backed by OpenTelemetry: one INTERNAL span `reagent.attribute {model}`
 * per attribution (or failure), placed on the logged call's trace (see trace-context.ts), timed
 * with the attribution's real start and duration; optionally one `gen_ai.evaluation.result`
 * log record per attribution.
 *
 * onAttributed/onFailed only build attributes and hand a finished span to the batch processor:
 * they never throw and never wait on the network. A down collector costs counted drops.
 *
 * @see docs/otel.md
 */
import { ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, type Context, type HrTime, type Link, type Span, type Tracer } from "@opentelemetry/api";
import { SeverityNumber, type Logger } from "@opentelemetry/api-logs";
import { RandomIdGenerator, type IdGenerator } from "@opentelemetry/sdk-trace-base";
import type { AttributionResult } from "../../schemas/attribution-result.js";
import type { AttributionExporter, AttributionFailure } from "../../src/pipeline/contracts.js";
import { ATTR, EVALUATION_NAME, attributionAttributes, evaluationLabel, failureAttributes, topSpansShare, type AttributeOptions, type Placement } from "./attributes.js";
import { explanation } from "./readable.js";
import { planParent, type ParentPlan, type SpanParentMode } from "./trace-context.js";

/** Attributes of the link from the attribution span to the logged LLM span. */
export const LINK_ATTRIBUTES = { "reagent.link.type": "attributed_call" } as const;

export const EVALUATION_EVENT_NAME = "gen_ai.evaluation.result";
export { EVALUATION_NAME };

function placement(plan: ParentPlan): Placement {
  return { parent: plan.relation, ...(plan.sourceTraceId === undefined ? {} : { sourceTraceId: plan.sourceTraceId }), ...(plan.lateMs === undefined ? {} : { lateMs: plan.lateMs }) };
}

/** Lets the next root span reuse a known trace id (a record with a trace id but no span id). */
export class TraceIdHint implements IdGenerator {
  private next: string | undefined;
  private readonly random = new RandomIdGenerator();

  /** Run `fn` with the next generated trace id set to `traceId`. */
  with<T>(traceId: string | undefined, fn: () => T): T {
    this.next = traceId;
    try {
      return fn();
    } finally {
      this.next = undefined;
    }
  }

  generateTraceId(): string {
    const hinted = this.next;
    this.next = undefined;
    return hinted ?? this.random.generateTraceId();
  }

  generateSpanId(): string {
    return this.random.generateSpanId();
  }
}

/** Epoch milliseconds (fractional) as an exact HrTime. */
export function msToHrTime(ms: number): HrTime {
  let seconds = Math.floor(ms / 1000);
  let nanos = Math.round((ms - seconds * 1000) * 1e6);
  if (nanos >= 1e9) {
    seconds += 1;
    nanos -= 1e9;
  }
  return [seconds, nanos];
}

export interface ExporterLog {
  warn(obj: Record<string, unknown>, msg: string): void;
}

export interface OtelAttributionExporterOptions {
  readonly tracer: Tracer | undefined;
  readonly logger: Logger | undefined;
  readonly idHint: TraceIdHint;
  readonly attributes: AttributeOptions;
  readonly spanParent: SpanParentMode;
  /** An attribution starting this long after the logged call goes on a new, linked trace (0: never). */
  readonly lateAfterMs: number;
  /** Called when an exporter call hit an unexpected error (never thrown to the caller). */
  readonly onInternalError?: (err: unknown) => void;
  /** Counts what arrives after shutdown began. */
  readonly onAfterShutdown?: (signal: "traces" | "logs") => void;
  /** Flush and stop spans and events within `budgetMs` (default: the configured deadline). */
  readonly shutdown: (budgetMs?: number) => Promise<void>;
}

export class OtelAttributionExporter implements AttributionExporter {
  readonly name = "otel";
  private closed = false;
  private shutdownPromise: Promise<void> | undefined;

  constructor(private readonly o: OtelAttributionExporterOptions) {}

  onAttributed(result: AttributionResult): void {
    try {
      if (this.closed) {
        this.o.onAfterShutdown?.("traces");
        return;
      }
      const started = Date.parse(result.timings.started_at);
      const startMs = Number.isFinite(started) ? started : Date.now() - result.timings.duration_ms;
      const endMs = startMs + result.timings.duration_ms;
      const plan = planParent(result.context, this.o.spanParent, { startedAtMs: startMs, lateAfterMs: this.o.lateAfterMs });
      const model = result.context.logged_model ?? result.model.name;
      const attrs = attributionAttributes(result, this.o.attributes, placement(plan));
      const span = this.startSpan(`reagent.attribute ${model}`, plan, attrs, msToHrTime(startMs));
      if (span !== undefined) span.end(msToHrTime(endMs));
      if (this.o.logger !== undefined) {
        const target = plan.logged ?? span?.spanContext();
        const evalAttrs: Record<string, string | number | boolean> = {
          "gen_ai.evaluation.name": EVALUATION_NAME,
          "gen_ai.evaluation.score.value": topSpansShare(result, this.o.attributes.maxSpans),
          "gen_ai.evaluation.score.label": evaluationLabel(result),
          "gen_ai.evaluation.explanation": explanation(result, this.o.attributes.spanText, this.o.attributes.maxSpans).slice(0, this.o.attributes.valueLengthLimit),
          [ATTR.attributionId]: result.attribution_id,
          [ATTR.method]: result.method,
        };
        if (result.context.response_id !== null) evalAttrs["gen_ai.response.id"] = result.context.response_id;
        this.o.logger.emit({
          eventName: EVALUATION_EVENT_NAME,
          timestamp: msToHrTime(endMs),
          severityNumber: SeverityNumber.INFO,
          severityText: "INFO",
          attributes: evalAttrs,
          ...(target === undefined ? {} : { context: trace.setSpanContext(ROOT_CONTEXT, target) }),
        });
      }
    } catch (err) {
      this.o.onInternalError?.(err);
    }
  }

  onFailed(failure: AttributionFailure): void {
    try {
      if (this.closed) {
        this.o.onAfterShutdown?.("traces");
        return;
      }
      const plan = planParent(failure.context, this.o.spanParent, { startedAtMs: failure.startedAt.getTime(), lateAfterMs: this.o.lateAfterMs });
      const attrs = failureAttributes(failure, this.o.attributes, placement(plan));
      const model = failure.context.logged_model ?? failure.model;
      const span = this.startSpan(`reagent.attribute ${model}`, plan, attrs, msToHrTime(failure.startedAt.getTime()));
      if (span === undefined) return;
      const message = `${failure.code}: ${failure.message}`;
      span.setStatus({ code: SpanStatusCode.ERROR, message: message.slice(0, Math.min(512, this.o.attributes.valueLengthLimit)) });
      span.end(msToHrTime(Math.max(failure.endedAt.getTime(), failure.startedAt.getTime())));
    } catch (err) {
      this.o.onInternalError?.(err);
    }
  }

  shutdown(): Promise<void> {
    return this.shutdownWithin(undefined);
  }

  /** shutdown() with its own deadline (idempotent: the first call's deadline holds). */
  shutdownWithin(budgetMs: number | undefined): Promise<void> {
    this.closed = true;
    this.shutdownPromise ??= this.o.shutdown(budgetMs).catch(() => undefined);
    return this.shutdownPromise;
  }

  private startSpan(name: string, plan: ParentPlan, attributes: ReturnType<typeof attributionAttributes>, startTime: HrTime): Span | undefined {
    const tracer = this.o.tracer;
    if (tracer === undefined) return undefined;
    const links: Link[] = plan.logged === undefined ? [] : [{ context: plan.logged, attributes: { ...LINK_ATTRIBUTES } }];
    const parent: Context = plan.asChild && plan.logged !== undefined ? trace.setSpanContext(ROOT_CONTEXT, plan.logged) : ROOT_CONTEXT;
    return this.o.idHint.with(plan.joinTraceId, () =>
      tracer.startSpan(name, { kind: SpanKind.INTERNAL, startTime, links, attributes, root: !plan.asChild }, parent),
    );
  }
}

/** The exporter when no span or event export is configured. */
export const noopAttributionExporter: AttributionExporter = {
  name: "otel",
  onAttributed: () => undefined,
  onFailed: () => undefined,
  shutdown: () => Promise.resolve(),
};
