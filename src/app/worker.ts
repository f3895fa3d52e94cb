/**
 * The composition root of a worker: a validated config -> source, mapper, sampler, scorer +
 * engine, sinks, dead letters and OpenTelemetry, wired into a Pipeline. The CLI (`run`, `demo`),
 * the tests and the benchmarks build workers here, so nothing needs the CLI to run one.
 *
 * @see docs/pipeline.md
 */
import { resolve } from "node:path";
import type { Readable } from "node:stream";
import { destination, pino, type DestinationStream, type Logger } from "pino";
import type { AttributionResult } from "../../schemas/attribution-result.js";
import { createOtelExporter, type OtelExport } from "../../connectors/otel/index.js";
import { loadAttributionModel, type LoadedModel, type ScorerEvent } from "../models/endpoint.js";
import { EngineAttributor, type RecordAttributor } from "../pipeline/attributor.js";
import type { DeadLetterDeps, ProgressOutput, SinkDeps, SourceDeps } from "../pipeline/components.js";
import type { DeadLetterSink, PipelineMetrics, Sink, Source } from "../pipeline/contracts.js";
import type { Env } from "./config-loader.js";
import { RecordMapper } from "../pipeline/mapping/mapper.js";
import { RecordSampler } from "../pipeline/sampling/sampler.js";
import { Pipeline, type PipelineStats, type RunSummary } from "../pipeline/worker.js";
import { BUNDLED_MLM_DIR, buildEngine, type BuiltEngine } from "./engine.js";
import { DEAD_LETTERS, SINKS, SOURCES, createComponent } from "./components.js";
import { DEFAULT_DEAD_LETTERS, configWarnings, type WorkerConfig } from "./config.js";

export interface BuildWorkerOptions {
  readonly logger?: Logger;
  readonly env?: Env;
  /** stdin source input (default process.stdin). */
  readonly stdin?: Readable;
  readonly progressStream?: ProgressOutput;
  readonly onResult?: (r: AttributionResult) => void;
}

export interface Worker {
  readonly config: WorkerConfig;
  readonly pipeline: Pipeline;
  readonly logger: Logger;
  /** Run to the end, then release the model and OpenTelemetry. */
  run(): Promise<RunSummary>;
}

/** A pino logger on stderr (JSON lines), or on `dest` (the CLI's terminal-aware log output). */
export function createLogger(level: WorkerConfig["logging"]["level"], dest?: DestinationStream): Logger {
  return pino({ level, base: { pid: process.pid } }, dest ?? destination({ dest: 2, sync: true }));
}

function buildSource(cfg: WorkerConfig, deps: SourceDeps): Source {
  return createComponent<SourceDeps, Source>(SOURCES, cfg.source, deps);
}

function buildDeadLetters(cfg: WorkerConfig, deps: Omit<DeadLetterDeps, "source">): DeadLetterSink {
  return createComponent<DeadLetterDeps, DeadLetterSink>(DEAD_LETTERS, cfg.dead_letter ?? DEFAULT_DEAD_LETTERS, { ...deps, source: cfg.source });
}

function buildSinks(cfg: WorkerConfig, deps: SinkDeps): Sink[] {
  return cfg.sinks.map((s) => createComponent<SinkDeps, Sink>(SINKS, s, deps));
}

/**
 * An endpoint scorer's events as metrics: each request's latency and outcome, and the circuit
 * breaker's state. The guard reports only transitions, so the first request (the start-up
 * self-test) records `closed`: the state series exists from the start, not from the first outage.
 */
export function scorerEventMetrics(metrics: PipelineMetrics, model: string): (e: ScorerEvent) => void {
  let breakerKnown = false;
  return (e) => {
    if (e.type === "breaker") {
      breakerKnown = true;
      metrics.endpointBreaker(model, e.to);
    } else if (e.type === "request") {
      if (!breakerKnown) {
        breakerKnown = true;
        metrics.endpointBreaker(model, "closed");
      }
      metrics.endpointRequest(model, e.latencyMs, e.ok ? "ok" : (e.errorKind ?? "error"));
    }
  };
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
      onEvent: scorerEventMetrics(metrics, modelName),
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

  // The source is built before the pipeline it reports on: the counts read it once it exists.
  const pipelineRef: { pipeline?: Pipeline } = {};
  const records = (): { attributed: number; done: number } | undefined => {
    if (pipelineRef.pipeline === undefined) return undefined;
    const s = pipelineRef.pipeline.stats();
    const dead = Object.values(s.deadLettered).reduce((a, b) => a + b, 0);
    return { attributed: s.attributed, done: Math.min(s.consumed, s.attributed + s.decisions.skipped + dead) };
  };
  const pipeline = new Pipeline({
    source: buildSource(cfg, { logger, metrics, stdin: opts.stdin, progress: opts.progressStream, records }),
    mapper: new RecordMapper(cfg.mapping),
    sampler: new RecordSampler(cfg.sampling),
    attributor,
    sinks: buildSinks(cfg, { logger, metrics }),
    exporters: otel.settings.traces || otel.settings.logs || otel.settings.annotations ? [otel.exporter] : [],
    deadLetters: buildDeadLetters(cfg, { logger, metrics }),
    metrics,
    logger,
    config: cfg.pipeline,
    ...(opts.onResult ? { onResult: opts.onResult } : {}),
  });
  pipelineRef.pipeline = pipeline;

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
