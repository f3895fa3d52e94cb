/**
 * OpenTelemetry for the worker: `createOtelExporter(config)` builds the attribution span
 * exporter, the evaluation events, the pipeline metrics (OTLP push and/or Prometheus scrape)
 * from the `otel:` config section and the standard OTEL_* environment variables.
 *
 * Nothing is exported unless configured (docs/otel.md): with everything off, the exporter and
 * metrics are no-ops and no socket is opened. The SDK objects are private to this module: no
 * global provider is registered, so the worker's own instrumentation (if any) is unaffected.
 *
 * @see docs/otel.md
 */
import { createServer, type Server } from "node:http";
import type { Tracer } from "@opentelemetry/api";
import type { Logger } from "@opentelemetry/api-logs";
import { OTLPLogExporter } from "@opentelemetry/exporter-logs-otlp-proto";
import { OTLPMetricExporter } from "@opentelemetry/exporter-metrics-otlp-proto";
import { PrometheusExporter } from "@opentelemetry/exporter-prometheus";
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-proto";
import { detectResources, envDetector, resourceFromAttributes, type Resource } from "@opentelemetry/resources";
import { BatchLogRecordProcessor, LoggerProvider } from "@opentelemetry/sdk-logs";
import { MeterProvider, PeriodicExportingMetricReader, type MetricReader } from "@opentelemetry/sdk-metrics";
import { BasicTracerProvider, BatchSpanProcessor } from "@opentelemetry/sdk-trace-base";
import { ATTR_SERVICE_NAME, ATTR_SERVICE_VERSION } from "@opentelemetry/semantic-conventions";
import { ExportError, errorMessage } from "../../src/errors.js";
import { noopMetrics, type AttributionExporter, type PipelineMetrics } from "../../src/pipeline/contracts.js";
import { ENGINE_VERSION } from "../../src/version.js";
import { AnnotationWriter, type AnnotationStats } from "./annotations.js";
import { OtelAttributionExporter, TraceIdHint, noopAttributionExporter, type ExporterLog } from "./attribution-exporter.js";
import type { AttributeOptions } from "./attributes.js";
import { DEFAULT_SERVICE_NAME, parseOtelConfig, resolveOtelSettings, spanTextPolicy, type OtelConfigInput, type OtelSettings } from "./config.js";
import {
  CountingLogExporter,
  CountingLogProcessor,
  CountingMetricExporter,
  CountingSpanExporter,
  CountingSpanProcessor,
  ExportTally,
  type OtelStats,
  type Signal,
} from "./counting.js";
import { OtelPipelineMetrics } from "./metrics.js";
import { ConventionalPrometheusSerializer } from "./prometheus.js";

export { otelConfigSchema, parseOtelConfig, resolveOtelSettings, type OtelConfig, type OtelConfigInput, type OtelSettings } from "./config.js";
export { ATTR, ATTRIBUTE_SPECS, attributionAttributes, failureAttributes, type AttributeOptions } from "./attributes.js";
export { METRIC_SPECS, OtelPipelineMetrics, prometheusNames } from "./metrics.js";
export { prometheusFamily, prometheusSampleNames } from "./prometheus.js";
export type { OtelStats, SignalStats } from "./counting.js";
export type { ExporterLog } from "./attribution-exporter.js";
export type { AnnotationStats } from "./annotations.js";

export const INSTRUMENTATION_SCOPE = "reagent-stream";

export interface OtelExporterOptions {
  /** Environment to resolve `enabled` and limits from (default process.env; the OTLP exporters themselves always read process.env). */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Where export trouble is reported (a pino logger fits); rate-limited to one line a minute per signal. */
  readonly log?: ExporterLog;
}

export interface OtelExport {
  /** Hand to the pipeline as its AttributionExporter. */
  readonly exporter: AttributionExporter;
  /** Hand to the pipeline as its PipelineMetrics. */
  readonly metrics: PipelineMetrics;
  readonly settings: OtelSettings;
  /** The scrape URL when the Prometheus endpoint is on (http://host:port/metrics). */
  readonly prometheusUrl: string | undefined;
  /** Exported/dropped counts per signal. */
  stats(): OtelStats;
  /** Phoenix annotations / Langfuse scores sent, dropped and skipped (undefined when not configured). */
  annotationStats(): AnnotationStats | undefined;
  /** Mark the worker ready or not for GET /readyz on the metrics port (not ready until called). */
  setReady(ready: boolean): void;
  /** Send what is buffered now (bounded by shutdown_timeout_ms); never rejects. */
  forceFlush(): Promise<void>;
  /** Flush and stop everything (spans, events, metrics, the scrape endpoint) by shutdown_timeout_ms; idempotent, never rejects. */
  shutdown(): Promise<void>;
}

/** Resolves true when `p` settled within `ms`, false when the deadline came first (p keeps running). */
async function withinDeadline(p: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
    timer.unref();
  });
  try {
    return await Promise.race([p.then(() => true, () => true), deadline]);
  } finally {
    if (timer !== undefined) clearTimeout(timer);
  }
}

function buildResource(settings: OtelSettings): Resource {
  const base = resourceFromAttributes({ [ATTR_SERVICE_NAME]: DEFAULT_SERVICE_NAME, [ATTR_SERVICE_VERSION]: ENGINE_VERSION });
  const fromEnv = detectResources({ detectors: [envDetector] });
  const merged = base.merge(fromEnv);
  return settings.serviceName === undefined ? merged : merged.merge(resourceFromAttributes({ [ATTR_SERVICE_NAME]: settings.serviceName }));
}

/** One warning for the first failure of a signal, then at most one a minute with the count since. */
function rateLimitedWarn(log: ExporterLog | undefined): (signal: Signal, error: string, items: number, msg?: string) => void {
  const last = new Map<string, { at: number; suppressed: number }>();
  return (signal, error, items, msg) => {
    if (log === undefined) return;
    const now = Date.now();
    const key = `${signal}/${msg ?? "export"}`;
    const prev = last.get(key);
    if (prev !== undefined && now - prev.at < 60_000) {
      prev.suppressed += items;
      return;
    }
    last.set(key, { at: now, suppressed: 0 });
    try {
      log.warn(
        { signal, error, dropped: items, dropped_since_last_warning: prev?.suppressed ?? 0 },
        msg ?? `OTLP ${signal} export failed; dropping (see reagent_stream.otel.dropped and docs/otel.md)`,
      );
    } catch {
      // a logger must not break exporting
    }
  };
}

/**
 * Build the OpenTelemetry side of the worker from the `otel:` config section (validated here:
 * a bad value throws ConfigError naming `otel.<field>`). Throws ExportError when the Prometheus
 * endpoint cannot listen (port taken). Call `shutdown()` once when the pipeline has stopped.
 */
export async function createOtelExporter(config: OtelConfigInput | undefined = {}, options: OtelExporterOptions = {}): Promise<OtelExport> {
  const cfg = parseOtelConfig(config);
  const settings = resolveOtelSettings(cfg, options.env ?? process.env);
  const warn = rateLimitedWarn(options.log);
  const tally = new ExportTally(warn, (signal, status) => {
    try {
      options.log?.warn(
        { signal, status },
        signal === "logs"
          ? `the OTLP endpoint does not take logs (HTTP ${status}): evaluation events are not sent again; the result stays on the attribution span (gen_ai.evaluation.*). Set otel.evaluation_events: false to silence this`
          : `the OTLP endpoint does not take ${signal} (HTTP ${status}): not sent again (counted as dropped, reason not_accepted)`,
      );
    } catch {
      // a logger must not break exporting
    }
  });
  const warnInternal = (error: string): void => warn("traces", error, 1, "building an attribution span failed; it was dropped (a bug: please report it)");

  if (!settings.traces && !settings.logs && !settings.metricsOtlp && !settings.prometheus && !settings.annotations) {
    return {
      exporter: noopAttributionExporter,
      metrics: noopMetrics,
      settings,
      prometheusUrl: undefined,
      stats: () => tally.snapshot(),
      annotationStats: () => undefined,
      setReady: () => undefined,
      forceFlush: () => Promise.resolve(),
      shutdown: () => Promise.resolve(),
    };
  }

  const resource = buildResource(settings);
  const headers = { ...cfg.headers };
  const common = { timeoutMillis: cfg.export_timeout_ms, ...(Object.keys(headers).length > 0 ? { headers } : {}) };

  let ready = false;
  let metricsServer: Server | undefined;
  // Metrics: OTLP push and/or Prometheus pull, one MeterProvider.
  let meterProvider: MeterProvider | undefined;
  let metrics: PipelineMetrics = noopMetrics;
  let prometheusUrl: string | undefined;
  if (settings.metricsOtlp || settings.prometheus) {
    const readers: MetricReader[] = [];
    if (settings.metricsOtlp) {
      readers.push(
        new PeriodicExportingMetricReader({
          exporter: new CountingMetricExporter(new OTLPMetricExporter({ ...common, ...(settings.urls.metrics ? { url: settings.urls.metrics } : {}) }), tally),
          exportIntervalMillis: cfg.metric_export_interval_ms,
          exportTimeoutMillis: Math.min(cfg.export_timeout_ms, cfg.metric_export_interval_ms),
        }),
      );
    }
    if (settings.prometheus) {
      const { host, port } = cfg.prometheus;
      const prom = new PrometheusExporter({ host, port, preventServerStart: true });
      const serializer = new ConventionalPrometheusSerializer();
      // Our own server on the metrics port: /metrics (the exporter's handler), and /healthz
      // (the process answers) and /readyz (the worker is running: model loaded, pipeline
      // started) for Kubernetes probes.
      const server = createServer((req, res) => {
        const path = (req.url ?? "/").split("?")[0];
        if (path === "/metrics") {
          // Collected here and written with conventional names (prometheus.ts), not by the exporter's handler.
          prom.collect().then(
            ({ resourceMetrics }) => res.writeHead(200, { "content-type": "text/plain; version=0.0.4; charset=utf-8" }).end(serializer.serialize(resourceMetrics)),
            (err: unknown) => res.writeHead(500, { "content-type": "text/plain" }).end(`# failed to collect metrics: ${errorMessage(err)}\n`),
          );
          return;
        }
        if (path === "/healthz") {
          res.writeHead(200, { "content-type": "text/plain" }).end("ok\n");
          return;
        }
        if (path === "/readyz") {
          res.writeHead(ready ? 200 : 503, { "content-type": "text/plain" }).end(ready ? "ready\n" : "not ready\n");
          return;
        }
        res.writeHead(404).end();
      });
      try {
        await new Promise<void>((resolve, reject) => {
          server.once("error", reject);
          server.listen(port, host, () => resolve());
        });
        metricsServer = server;
      } catch (err) {
        throw new ExportError({
          what: `starting the Prometheus endpoint on ${host}:${port}`,
          why: `${errorMessage(err)}; free the port or set otel.prometheus.port (or otel.prometheus.enabled: false)`,
          cause: err,
          details: { host, port },
        });
      }
      prometheusUrl = `http://${host.includes(":") ? `[${host}]` : host}:${port}/metrics`;
      readers.push(prom);
    }
    meterProvider = new MeterProvider({ resource, readers });
    const m = new OtelPipelineMetrics(meterProvider.getMeter(INSTRUMENTATION_SCOPE, ENGINE_VERSION));
    tally.attach(m);
    metrics = m;
  }

  const attrOpts: AttributeOptions = {
    maxSpans: cfg.max_spans,
    maxSegments: cfg.max_segments,
    sequenceMaxLen: cfg.sequence_max_len,
    valueLengthLimit: settings.attributeValueLengthLimit,
    spanText: spanTextPolicy(cfg),
    standardAttributes: cfg.standard_attributes,
  };
  const buffer = {
    maxQueueSize: cfg.max_queue_size,
    maxExportBatchSize: cfg.max_export_batch_size,
    scheduledDelayMillis: cfg.schedule_delay_ms,
    exportTimeoutMillis: cfg.export_timeout_ms,
  };

  const idHint = new TraceIdHint();
  let tracerProvider: BasicTracerProvider | undefined;
  let tracer: Tracer | undefined;
  if (settings.traces) {
    const spanExporter = new CountingSpanExporter(new OTLPTraceExporter({ ...common, ...(settings.urls.traces ? { url: settings.urls.traces } : {}) }), tally);
    tracerProvider = new BasicTracerProvider({
      resource,
      idGenerator: idHint,
      spanLimits: { attributeValueLengthLimit: settings.attributeValueLengthLimit },
      spanProcessors: [new CountingSpanProcessor(new BatchSpanProcessor(spanExporter, buffer), tally, cfg.max_queue_size)],
    });
    tracer = tracerProvider.getTracer(INSTRUMENTATION_SCOPE, ENGINE_VERSION);
  }

  let loggerProvider: LoggerProvider | undefined;
  let logger: Logger | undefined;
  if (settings.logs) {
    const logExporter = new CountingLogExporter(new OTLPLogExporter({ ...common, ...(settings.urls.logs ? { url: settings.urls.logs } : {}) }), tally);
    loggerProvider = new LoggerProvider({
      resource,
      logRecordLimits: { attributeValueLengthLimit: settings.attributeValueLengthLimit },
      processors: [new CountingLogProcessor(new BatchLogRecordProcessor(logExporter, buffer), tally, cfg.max_queue_size)],
    });
    logger = loggerProvider.getLogger(INSTRUMENTATION_SCOPE, ENGINE_VERSION);
  }

  const deadlineMs = cfg.shutdown_timeout_ms;
  const stopSpansAndEvents = async (budgetMs: number = deadlineMs): Promise<void> => {
    const parts: Promise<unknown>[] = [];
    if (tracerProvider) parts.push(tracerProvider.shutdown());
    if (loggerProvider) parts.push(loggerProvider.shutdown());
    if (!(await withinDeadline(Promise.all(parts), budgetMs))) {
      tally.abandonPending("traces");
      tally.abandonPending("logs");
    }
  };

  const otlpExporter: AttributionExporter =
    tracer !== undefined || logger !== undefined
      ? new OtelAttributionExporter({
          tracer,
          logger,
          idHint,
          attributes: attrOpts,
          spanParent: cfg.span_parent,
          lateAfterMs: cfg.late_after_ms,
          onInternalError: (err) => {
            tally.dropped("traces", "internal_error", 1);
            warnInternal(errorMessage(err));
          },
          onAfterShutdown: (signal) => tally.dropped(signal, "after_shutdown", 1),
          shutdown: stopSpansAndEvents,
        })
      : noopAttributionExporter;

  const annotations =
    settings.annotations && cfg.annotations !== undefined
      ? new AnnotationWriter(cfg.annotations, { env: options.env ?? process.env, spanText: attrOpts.spanText, maxSpans: cfg.max_spans, ...(options.log ? { log: options.log } : {}) })
      : undefined;
  const exporter: AttributionExporter = annotations === undefined ? otlpExporter : fanOut(otlpExporter, annotations, deadlineMs);

  let shutdownPromise: Promise<void> | undefined;
  const shutdown = (): Promise<void> => {
    shutdownPromise ??= (async () => {
      const began = Date.now();
      // Metrics go last so their final push carries the drop counts of the span shutdown; they
      // keep a fifth of the deadline when they push over OTLP.
      const spanBudget = settings.metricsOtlp ? Math.max(1, Math.floor(deadlineMs * 0.8)) : deadlineMs;
      await Promise.all([
        otlpExporter instanceof OtelAttributionExporter ? otlpExporter.shutdownWithin(spanBudget).catch(() => undefined) : otlpExporter.shutdown().catch(() => undefined),
        annotations?.shutdownWithin(spanBudget),
      ]);
      if (meterProvider && !(await withinDeadline(meterProvider.shutdown(), Math.max(1, deadlineMs - (Date.now() - began))))) tally.abandonPending("metrics");
      if (metricsServer !== undefined) {
        const srv = metricsServer;
        srv.closeAllConnections();
        await withinDeadline(new Promise<void>((resolve) => srv.close(() => resolve())), 1000);
      }
    })();
    return shutdownPromise;
  };

  const forceFlush = async (): Promise<void> => {
    const parts: Promise<unknown>[] = [];
    if (tracerProvider) parts.push(tracerProvider.forceFlush());
    if (loggerProvider) parts.push(loggerProvider.forceFlush());
    if (meterProvider) parts.push(meterProvider.forceFlush());
    await withinDeadline(Promise.all(parts), deadlineMs);
  };

  const setReady = (value: boolean): void => {
    ready = value;
  };
  return { exporter, metrics, settings, prometheusUrl, stats: () => tally.snapshot(), annotationStats: () => annotations?.stats(), setReady, forceFlush, shutdown };
}

/** The OTLP exporter and the annotation writers behind one AttributionExporter. */
function fanOut(otlp: AttributionExporter, annotations: AnnotationWriter, deadlineMs: number): AttributionExporter {
  return {
    name: "otel",
    onAttributed: (r) => {
      otlp.onAttributed(r);
      annotations.onAttributed(r);
    },
    onFailed: (f) => otlp.onFailed(f),
    shutdown: async () => {
      await Promise.all([otlp.shutdown().catch(() => undefined), annotations.shutdownWithin(deadlineMs)]);
    },
  };
}
