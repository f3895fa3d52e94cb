/**
 * The composition root of a worker: a validated config -> source, mapper, sampler, scorer +
 * engine, sinks, dead letters and OpenTelemetry, wired into a Pipeline. The CLI (`run`, `demo`),
 * the tests and the benchmarks build workers here, so nothing needs the CLI to run one.
 *
 * @see docs/pipeline.md
 */
import { resolve } from "node:path";
import type { Readable } from "node:stream";
import { destination, pino, type Logger } from "pino";
import type { AttributionResult } from "../../schemas/attribution-result.js";
import { createFileSource } from "../../connectors/file/source.js";
import { JsonlSink } from "../../connectors/file/jsonl-sink.js";
import type { ProgressStream } from "../../connectors/file/progress.js";
import { JsonlDeadLetters } from "../../connectors/file/dead-letters.js";
import { KafkaDeadLetters } from "../../connectors/kafka/dead-letter.js";
import { KafkaSource } from "../../connectors/kafka/source.js";
import type { KafkaConnection } from "../../connectors/kafka/config.js";
import { createOtelExporter, type OtelExport } from "../../connectors/otel/index.js";
import { createSink } from "../../connectors/sink-common/factory.js";
import { createStdinSource } from "../../connectors/stdin/source.js";
import { errorMessage } from "../errors.js";
import { loadAttributionModel, type LoadedModel } from "../models/endpoint.js";
import { EngineAttributor, type RecordAttributor } from "../pipeline/attributor.js";
import type { DeadLetterSink, PipelineMetrics, Sink, Source } from "../pipeline/contracts.js";
import type { Env } from "./config-loader.js";
import { RecordMapper } from "../pipeline/mapping/mapper.js";
import { RecordSampler } from "../pipeline/sampling/sampler.js";
import { Pipeline, type PipelineStats, type RunSummary } from "../pipeline/worker.js";
import { BUNDLED_MLM_DIR, buildEngine, type BuiltEngine } from "./engine.js";
import { configWarnings, type WorkerConfig } from "./config.js";

export interface BuildWorkerOptions {
  readonly logger?: Logger;
  readonly env?: Env;
  /** stdin source input (default process.stdin). */
  readonly stdin?: Readable;
  readonly progressStream?: ProgressStream;
  readonly onResult?: (r: AttributionResult) => void;
}

export interface Worker {
  readonly config: WorkerConfig;
  readonly pipeline: Pipeline;
  readonly logger: Logger;
  /** Run to the end, then release the model and OpenTelemetry. */
  run(): Promise<RunSummary>;
}

export function createLogger(level: WorkerConfig["logging"]["level"]): Logger {
  return pino({ level, base: { pid: process.pid } }, destination({ dest: 2, sync: true }));
}

function buildSource(cfg: WorkerConfig, logger: Logger, opts: BuildWorkerOptions): Source {
  const s = cfg.source;
  if (s.type === "kafka") return new KafkaSource(s, { logger });
  if (s.type === "file") return createFileSource(s, opts.progressStream ? { progressStream: opts.progressStream } : {});
  return createStdinSource(s, { ...(opts.stdin ? { input: opts.stdin } : {}), ...(opts.progressStream ? { progressStream: opts.progressStream } : {}) });
}

function buildDeadLetters(cfg: WorkerConfig, logger: Logger, metrics: PipelineMetrics): DeadLetterSink {
  const d = cfg.dead_letter ?? { type: "jsonl" as const, path: "dead-letters.jsonl", fsync: true };
  if (d.type === "jsonl") return new JsonlDeadLetters(d);
  const src = cfg.source.type === "kafka" ? cfg.source : undefined;
  const conn: KafkaConnection = {
    brokers: d.brokers ?? src?.brokers ?? [],
    client_id: d.client_id ?? src?.client_id ?? "reagent-stream",
    ssl: d.ssl ?? src?.ssl,
    sasl: d.sasl ?? src?.sasl,
    connection_timeout_ms: src?.connection_timeout_ms ?? 10_000,
    request_timeout_ms: src?.request_timeout_ms ?? 30_000,
    log_level: src?.log_level ?? "error",
  };
  return new KafkaDeadLetters(d, conn, { logger, metrics });
}

function buildSinks(cfg: WorkerConfig, metrics: PipelineMetrics, logger: Logger): Sink[] {
  return cfg.sinks.map((s) =>
    s.type === "jsonl"
      ? new JsonlSink(s, metrics)
      : createSink(s, {
          metrics,
          onRetry: ({ attempt, waitMs, error }) => logger.warn({ sink: s.type, attempt, wait_ms: waitMs, err: errorMessage(error) }, "sink batch failed; retrying"),
        }),
  );
}

/** Builds a worker from a validated config (loads the model, connects nothing yet but the scorer's self-test). */
export async function buildWorker(cfg: WorkerConfig, opts: BuildWorkerOptions = {}): Promise<Worker> {
  const logger = opts.logger ?? createLogger(cfg.logging.level);
  for (const line of configWarnings(cfg)) logger.warn({}, `config: ${line}`);
  // Always resolved, with or without an `otel:` section: the standard OTEL_* variables alone
  // turn export on (docs/otel.md); with neither, this is a no-op that opens nothing.
  const otel: OtelExport = await createOtelExporter(cfg.otel ?? {}, { log: logger, ...(opts.env ? { env: opts.env } : {}) });
  const metrics = otel.metrics;

  let model: LoadedModel | undefined;
  let built: BuiltEngine | undefined;
  let attributor: RecordAttributor | null = null;
  if (cfg.pipeline.attribution === "on" && cfg.scorer !== undefined) {
    const modelName = cfg.scorer.type === "local" ? cfg.scorer.path : (cfg.scorer.model ?? cfg.scorer.type);
    model = await loadAttributionModel(cfg.scorer, {
      log: (text) => logger.info({ self_test: text }, "scorer self-test"),
      onEvent: (e) => {
        if (e.type === "request") metrics.endpointRequest(modelName, e.latencyMs, e.ok ? "ok" : (e.errorKind ?? "error"));
      },
      ...(opts.env ? { env: opts.env } : {}),
    });
    const e = cfg.engine;
    const { segments, max_spans, mlm_model, use_logged_token_ids, cache_dir, ...engineCfg } = e;
    built = await buildEngine({
      model,
      engine: engineCfg,
      mlmModel: mlm_model ?? BUNDLED_MLM_DIR,
      segments,
      maxSpans: max_spans,
      ...(cache_dir === undefined ? {} : { cacheDir: resolve(cache_dir) }),
    });
    attributor = new EngineAttributor(built.engine, { useLoggedTokenIds: use_logged_token_ids });
  }

  const pipeline = new Pipeline({
    source: buildSource(cfg, logger, opts),
    mapper: new RecordMapper(cfg.mapping),
    sampler: new RecordSampler(cfg.sampling),
    attributor,
    sinks: buildSinks(cfg, metrics, logger),
    exporters: otel.settings.traces || otel.settings.logs || otel.settings.annotations ? [otel.exporter] : [],
    deadLetters: buildDeadLetters(cfg, logger, metrics),
    metrics,
    logger,
    config: cfg.pipeline,
    ...(opts.onResult ? { onResult: opts.onResult } : {}),
  });

  return {
    config: cfg,
    pipeline,
    logger,
    run: async () => {
      let statsTimer: NodeJS.Timeout | undefined;
      if (cfg.logging.stats_interval_ms > 0) {
        statsTimer = setInterval(() => logger.info({ stats: compactStats(pipeline.stats()) }, "stats"), cfg.logging.stats_interval_ms);
        statsTimer.unref();
      }
      try {
        otel.setReady(true);
        return await pipeline.run();
      } finally {
        otel.setReady(false);
        if (statsTimer) clearInterval(statsTimer);
        await built?.close();
        await model?.close();
        await otel.shutdown();
      }
    },
  };
}

/** The counters worth a log line. */
export function compactStats(s: PipelineStats): Record<string, unknown> {
  return {
    consumed: s.consumed,
    parsed: s.parsed,
    sampled: s.decisions.sampled,
    skipped: s.decisions.skipped,
    decisions: s.decisions.byReason,
    attributed: s.attributed,
    failed: s.failed,
    dead_lettered: s.deadLettered,
    duplicates_ignored: s.duplicatesIgnored,
    in_flight: s.partitions.reduce((n, p) => n + p.inFlight, 0),
    queued: s.queued,
    commits: s.commits,
  };
}
