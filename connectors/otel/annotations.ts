/**
 * Evaluation results written through a backend's own API, for backends whose trace view shows
 * evaluations that way rather than from spans or OTLP logs:
 *
 * - Arize Phoenix: one span annotation per attribution on the LOGGED LLM span
 *   (`POST {url}/v1/span_annotations`, batched), name `reagent.top_spans_share`, annotator
 *   `CODE`, score = share of prompt importance the top spans explain, label converged /
 *   not_converged, the explanation line, and the top spans as metadata. Upserted by
 *   attribution id, so a redelivered record does not add a second annotation.
 * - Langfuse: one score per attribution on the logged trace and observation
 *   (`POST {url}/api/public/scores`, basic auth with the project's public/secret key), id =
 *   attribution id (Langfuse upserts on it).
 *
 * Best effort like every exporter: onAttributed only queues; requests go out on a timer; a
 * failed request drops its batch (counted, warned about at most once a minute); a full queue
 * drops new items (counted). Credentials are read from the environment and never logged.
 *
 * @see docs/otel.md
 */
import type { AttributionResult } from "../../schemas/attribution-result.js";
import { errorMessage } from "../../src/errors.js";
import type { AttributionExporter } from "../../src/pipeline/contracts.js";
import { EVALUATION_NAME, evaluationLabel, round6, topSpansShare } from "./attributes.js";
import type { AnnotationsConfig, SpanTextPolicy } from "./config.js";
import { additiveSegments, explanation, policyTexts, rankedSpans, spanText } from "./readable.js";
import { normalizeId } from "./trace-context.js";

type Env = Readonly<Record<string, string | undefined>>;

export interface AnnotationStats {
  sent: number;
  dropped: number;
  /** Attributions of records without the ids a backend needs (span id for Phoenix, trace id for Langfuse). */
  skipped: number;
}

export interface AnnotationWriterOptions {
  readonly env: Env;
  readonly spanText: SpanTextPolicy;
  readonly maxSpans: number;
  readonly log?: { warn(obj: Record<string, unknown>, msg: string): void };
}

interface Backend<T> {
  readonly name: "phoenix" | "langfuse";
  build(result: AttributionResult): T | undefined;
  send(batch: T[], signal: AbortSignal): Promise<void>;
}

async function expectOk(res: Response, what: string): Promise<void> {
  if (res.ok) return;
  const body = (await res.text().catch(() => "")).slice(0, 200);
  throw new Error(`${what}: HTTP ${res.status}${body === "" ? "" : ` ${body}`}`);
}

function base(url: string): string {
  return url.replace(/\/+$/, "");
}

/** What the annotation carries besides score and label: the top spans and shares, as the text policy allows. */
function metadata(result: AttributionResult, o: AnnotationWriterOptions): Record<string, unknown> {
  const { prompt } = policyTexts(result, o.spanText);
  return {
    attribution_id: result.attribution_id,
    record_id: result.context.record_id,
    method: `${result.method}${result.mode === null ? "" : `/${result.mode}`}`,
    top_spans: rankedSpans(result, o.maxSpans).map((s) => ({ rank: s.rank, share: round6(s.score), chars: [s.start, s.end], segment: s.segment, ...(prompt === undefined ? {} : { text: spanText(s, prompt) }) })),
    segment_shares: Object.fromEntries(additiveSegments(result).map((s) => [s.name, round6(s.share)])),
    converged: result.convergence.converged,
    targets_converged: `${result.convergence.targets_converged}/${result.convergence.targets_total}`,
    ...(result.faithfulness === null ? {} : { faithfulness: result.faithfulness }),
  };
}

interface PhoenixAnnotation {
  span_id: string;
  name: string;
  annotator_kind: "CODE";
  identifier: string;
  result: { label: string; score: number; explanation: string };
  metadata: Record<string, unknown>;
}

function phoenixBackend(cfg: NonNullable<AnnotationsConfig["phoenix"]>, o: AnnotationWriterOptions): Backend<PhoenixAnnotation> {
  const headers: Record<string, string> = { "content-type": "application/json" };
  const key = cfg.api_key_env === undefined ? undefined : o.env[cfg.api_key_env];
  if (key !== undefined && key !== "") headers.authorization = `Bearer ${key}`;
  return {
    name: "phoenix",
    build(result) {
      const spanId = normalizeId(result.context.span_id, 16);
      if (spanId === undefined) return undefined;
      return {
        span_id: spanId,
        name: EVALUATION_NAME,
        annotator_kind: "CODE",
        identifier: result.attribution_id,
        result: { label: evaluationLabel(result), score: topSpansShare(result, o.maxSpans), explanation: explanation(result, o.spanText, o.maxSpans) },
        metadata: metadata(result, o),
      };
    },
    async send(batch, signal) {
      const res = await fetch(`${base(cfg.url)}/v1/span_annotations`, { method: "POST", headers, body: JSON.stringify({ data: batch }), signal });
      await expectOk(res, "Phoenix span annotations");
    },
  };
}

interface LangfuseScore {
  id: string;
  traceId: string;
  observationId?: string;
  name: string;
  value: number;
  dataType: "NUMERIC";
  comment: string;
  metadata: Record<string, unknown>;
}

function langfuseBackend(cfg: NonNullable<AnnotationsConfig["langfuse"]>, o: AnnotationWriterOptions): Backend<LangfuseScore> {
  const user = o.env[cfg.public_key_env] ?? "";
  const pass = o.env[cfg.secret_key_env] ?? "";
  const headers = { "content-type": "application/json", authorization: `Basic ${Buffer.from(`${user}:${pass}`).toString("base64")}` };
  return {
    name: "langfuse",
    build(result) {
      const traceId = normalizeId(result.context.trace_id, 32);
      if (traceId === undefined) return undefined;
      const spanId = normalizeId(result.context.span_id, 16);
      return {
        id: result.attribution_id,
        traceId,
        ...(spanId === undefined ? {} : { observationId: spanId }),
        name: EVALUATION_NAME,
        value: topSpansShare(result, o.maxSpans),
        dataType: "NUMERIC",
        comment: explanation(result, o.spanText, o.maxSpans),
        metadata: metadata(result, o),
      };
    },
    async send(batch, signal) {
      // The scores API takes one score per request.
      for (const score of batch) {
        const res = await fetch(`${base(cfg.url)}/api/public/scores`, { method: "POST", headers, body: JSON.stringify(score), signal });
        await expectOk(res, "Langfuse scores");
      }
    },
  };
}

class Queue<T> {
  private items: T[] = [];
  private timer: NodeJS.Timeout | undefined;
  private sending: Promise<void> = Promise.resolve();

  constructor(
    private readonly backend: Backend<T>,
    private readonly cfg: AnnotationsConfig,
    private readonly stats: AnnotationStats,
    private readonly warn: (backend: string, error: string, items: number) => void,
  ) {}

  push(result: AttributionResult): void {
    const item = this.backend.build(result);
    if (item === undefined) {
      this.stats.skipped++;
      return;
    }
    if (this.items.length >= this.cfg.max_queue_size) {
      this.stats.dropped++;
      return;
    }
    this.items.push(item);
    if (this.items.length >= this.cfg.max_batch_size) this.flushSoon(0);
    else this.flushSoon(this.cfg.schedule_delay_ms);
  }

  private flushSoon(delay: number): void {
    if (this.timer !== undefined && delay > 0) return;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.flush();
    }, delay);
    this.timer.unref();
  }

  /** Send everything queued now, one batch after the other. */
  flush(): Promise<void> {
    this.sending = this.sending.then(async () => {
      while (this.items.length > 0) {
        const batch = this.items.splice(0, this.cfg.max_batch_size);
        try {
          await this.backend.send(batch, AbortSignal.timeout(this.cfg.timeout_ms));
          this.stats.sent += batch.length;
        } catch (err) {
          this.stats.dropped += batch.length;
          this.warn(this.backend.name, errorMessage(err), batch.length);
        }
      }
    });
    return this.sending;
  }

  stop(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }
}

/** Phoenix span annotations and/or Langfuse scores, as one AttributionExporter. */
export class AnnotationWriter implements AttributionExporter {
  readonly name = "annotations";
  private readonly counts: AnnotationStats = { sent: 0, dropped: 0, skipped: 0 };
  private readonly queues: Queue<unknown>[] = [];
  private closed = false;

  constructor(cfg: AnnotationsConfig, o: AnnotationWriterOptions) {
    const lastWarn = new Map<string, number>();
    const warn = (backend: string, error: string, items: number): void => {
      const now = Date.now();
      if (now - (lastWarn.get(backend) ?? 0) < 60_000) return;
      lastWarn.set(backend, now);
      try {
        o.log?.warn({ backend, error, dropped: items }, `writing ${backend} annotations failed; dropping them (best effort, see docs/otel.md)`);
      } catch {
        // a logger must not break exporting
      }
    };
    if (cfg.phoenix !== undefined) this.queues.push(new Queue(phoenixBackend(cfg.phoenix, o), cfg, this.counts, warn));
    if (cfg.langfuse !== undefined) this.queues.push(new Queue(langfuseBackend(cfg.langfuse, o), cfg, this.counts, warn));
  }

  onAttributed(result: AttributionResult): void {
    if (this.closed) {
      this.counts.dropped += this.queues.length;
      return;
    }
    for (const q of this.queues) {
      try {
        q.push(result);
      } catch {
        this.counts.dropped++;
      }
    }
  }

  onFailed(): void {
    // A failed attribution has no evaluation result to annotate; its ERROR span says why.
  }

  stats(): AnnotationStats {
    return { ...this.counts };
  }

  /** Send what is queued, bounded by `deadlineMs`; later calls are dropped (counted). */
  async shutdownWithin(deadlineMs: number): Promise<void> {
    this.closed = true;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.all(this.queues.map((q) => q.flush())),
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, deadlineMs);
        timer.unref();
      }),
    ]);
    if (timer !== undefined) clearTimeout(timer);
    for (const q of this.queues) q.stop();
  }

  shutdown(): Promise<void> {
    return this.shutdownWithin(5_000);
  }
}
