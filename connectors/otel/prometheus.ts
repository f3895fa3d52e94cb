/**
 * Prometheus names for the worker's metrics, following Prometheus conventions and the
 * OpenTelemetry spec's Prometheus compatibility rules: dots become underscores, the unit is a
 * suffix in base units (`_seconds` for unit `s`), counters end in `_total`, annotation units
 * (`{record}`) add nothing. OpenTelemetry names carry no unit (OTel semantic conventions), so
 * the OTLP side keeps `reagent_stream.endpoint.duration` while the scrape says
 * `reagent_stream_endpoint_duration_seconds`.
 *
 * @opentelemetry/exporter-prometheus 0.208 adds `_total` but no unit suffix, so the scrape
 * endpoint renames the collected metrics here before its serializer writes them.
 *
 * @see docs/otel.md#metrics (names; the old ones under "Renamed Prometheus metrics")
 */
import { PrometheusSerializer } from "@opentelemetry/exporter-prometheus";
import type { MetricData, ResourceMetrics } from "@opentelemetry/sdk-metrics";
import type { MetricKind } from "./metrics.js";

/** OTel (UCUM) units and the Prometheus base-unit word that ends a metric's name. */
const UNIT_WORDS: Readonly<Record<string, string>> = {
  s: "seconds",
  ms: "milliseconds",
  us: "microseconds",
  ns: "nanoseconds",
  By: "bytes",
  KiBy: "kibibytes",
  MiBy: "mebibytes",
  "%": "percent",
};

/** The unit word a name ends with (empty for counts: `{record}`, `1`, none). */
export function prometheusUnit(unit: string): string {
  if (unit === "" || /^\{[^}]*\}$/.test(unit)) return "";
  return UNIT_WORDS[unit] ?? "";
}

/** The family name: sanitised, with the unit suffix (and `_total` for counters). */
export function prometheusFamily(name: string, unit: string, kind: MetricKind): string {
  let base = name.replace(/[^a-zA-Z0-9_:]/g, "_").replace(/_+/g, "_");
  const word = prometheusUnit(unit);
  if (word !== "" && !base.endsWith(`_${word}`)) base = `${base}_${word}`;
  if (kind === "counter" && !base.endsWith("_total")) base = `${base}_total`;
  return base;
}

/** The sample names a metric is scraped as (a histogram has three). */
export function prometheusSampleNames(name: string, unit: string, kind: MetricKind): string[] {
  const family = prometheusFamily(name, unit, kind);
  if (kind === "histogram") return [`${family}_bucket`, `${family}_sum`, `${family}_count`];
  return [family];
}

/** A collected metric under its conventional name (the serializer adds `_total` itself). */
function renamed(m: MetricData): MetricData {
  const word = prometheusUnit(m.descriptor.unit);
  let name = m.descriptor.name.replace(/[^a-zA-Z0-9_:]/g, "_").replace(/_+/g, "_");
  if (word !== "" && !name.endsWith(`_${word}`)) name = `${name}_${word}`;
  // `# UNIT` must be the suffix of the name (OpenMetrics); counts have none.
  return { ...m, descriptor: { ...m.descriptor, name, unit: word } };
}

/** The text exposition of collected metrics, with conventional names. */
export class ConventionalPrometheusSerializer {
  private readonly inner = new PrometheusSerializer(undefined, false);

  serialize(rm: ResourceMetrics): string {
    return this.inner.serialize({
      resource: rm.resource,
      scopeMetrics: rm.scopeMetrics.map((s) => ({ ...s, metrics: s.metrics.map(renamed) })),
    });
  }
}
