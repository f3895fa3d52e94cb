import { describe, expect, it } from "vitest";
import { msToHrTime } from "../../../../connectors/otel/attribution-exporter.js";
import { parseOtelConfig, resolveOtelSettings } from "../../../../connectors/otel/config.js";
import { normalizeId, planParent } from "../../../../connectors/otel/trace-context.js";
import { emptyRecordContext } from "../../../../schemas/attribution-result.js";
import { ConfigError } from "../../../../src/errors.js";

describe("otel config", () => {
  it("exports nothing by default", () => {
    const s = resolveOtelSettings(parseOtelConfig({}), {});
    expect(s).toMatchObject({ otlp: false, traces: false, metricsOtlp: false, logs: false, prometheus: false });
    expect(s.config.prometheus).toEqual({ enabled: false, host: "127.0.0.1", port: 9464 });
    expect(s.attributeValueLengthLimit).toBe(1024);
    expect(parseOtelConfig(undefined).dangerously_capture_span_text).toBe(false);
  });

  it("turns on when the environment names an OTLP endpoint, unless enabled: false or OTEL_SDK_DISABLED", () => {
    const env = { OTEL_EXPORTER_OTLP_ENDPOINT: "http://collector:4318" };
    expect(resolveOtelSettings(parseOtelConfig({}), env)).toMatchObject({ otlp: true, traces: true, metricsOtlp: true, logs: false });
    expect(resolveOtelSettings(parseOtelConfig({}), { OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: "http://c:4318/v1/traces" }).traces).toBe(true);
    expect(resolveOtelSettings(parseOtelConfig({ enabled: false }), env).otlp).toBe(false);
    expect(resolveOtelSettings(parseOtelConfig({ enabled: true, prometheus: { enabled: true } }), { OTEL_SDK_DISABLED: "true" })).toMatchObject({ otlp: false, prometheus: false });
  });

  it("honours OTEL_{TRACES,METRICS,LOGS}_EXPORTER=none per signal", () => {
    const cfg = parseOtelConfig({ enabled: true, evaluation_events: true });
    expect(resolveOtelSettings(cfg, {})).toMatchObject({ traces: true, metricsOtlp: true, logs: true });
    expect(resolveOtelSettings(cfg, { OTEL_TRACES_EXPORTER: "none", OTEL_METRICS_EXPORTER: "none", OTEL_LOGS_EXPORTER: "none" })).toMatchObject({ otlp: true, traces: false, metricsOtlp: false, logs: false });
  });

  it("a YAML endpoint is a base URL: signal paths are appended, and it enables export", () => {
    const s = resolveOtelSettings(parseOtelConfig({ endpoint: "http://collector:4318" }), {});
    expect(s.otlp).toBe(true);
    expect(s.urls).toEqual({ traces: "http://collector:4318/v1/traces", metrics: "http://collector:4318/v1/metrics", logs: "http://collector:4318/v1/logs" });
    expect(resolveOtelSettings(parseOtelConfig({ endpoint: "https://otel.example/prefix/" }), {}).urls.traces).toBe("https://otel.example/prefix/v1/traces");
  });

  it("takes the value length limit from YAML, then the span env var, then the general one", () => {
    expect(resolveOtelSettings(parseOtelConfig({ attribute_value_length_limit: 100 }), { OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT: "50" }).attributeValueLengthLimit).toBe(100);
    expect(resolveOtelSettings(parseOtelConfig({}), { OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT: "50", OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT: "70" }).attributeValueLengthLimit).toBe(50);
    expect(resolveOtelSettings(parseOtelConfig({}), { OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT: "70" }).attributeValueLengthLimit).toBe(70);
    expect(resolveOtelSettings(parseOtelConfig({}), { OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT: "lots" }).attributeValueLengthLimit).toBe(1024);
  });

  it("rejects unknown keys and bad values with a ConfigError naming otel.<field>", () => {
    const bad = (input: unknown, path: string): void => {
      try {
        parseOtelConfig(input);
        expect.unreachable(`accepted ${JSON.stringify(input)}`);
      } catch (err) {
        expect(err).toBeInstanceOf(ConfigError);
        expect((err as ConfigError).path).toBe(path);
      }
    };
    bad({ dangerously_attach_text: true }, "otel.dangerously_attach_text");
    bad({ endpoint: "collector:4318" }, "otel.endpoint");
    bad({ prometheus: { port: 70_000 } }, "otel.prometheus.port");
    bad({ sequence_max_len: 5000 }, "otel.sequence_max_len");
    bad({ max_queue_size: 10, max_export_batch_size: 20 }, "otel.max_export_batch_size");
    bad({ span_parent: "sibling" }, "otel.span_parent");
  });
});

describe("where the attribution span goes", () => {
  const ctx = (trace_id: string | null, span_id: string | null) => ({ ...emptyRecordContext, trace_id, span_id });

  it("normalises W3C ids and rejects invalid ones", () => {
    expect(normalizeId("4BF92F3577B34DA6A3CE929D0E0E4736", 32)).toBe("4bf92f3577b34da6a3ce929d0e0e4736");
    expect(normalizeId("4bf92f35-77b3-4da6-a3ce-929d0e0e4736", 32)).toBe("4bf92f3577b34da6a3ce929d0e0e4736");
    expect(normalizeId("0x00f067aa0ba902b7", 16)).toBe("00f067aa0ba902b7");
    expect(normalizeId("00000000000000000000000000000000", 32)).toBeUndefined();
    expect(normalizeId("xyz", 16)).toBeUndefined();
    expect(normalizeId("00f067aa0ba902b7", 32)).toBeUndefined();
    expect(normalizeId(null, 16)).toBeUndefined();
  });

  it("child mode: child of the logged span (remote, sampled); trace id only joins the trace as a root", () => {
    const both = planParent(ctx("4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"), "child");
    expect(both).toMatchObject({ relation: "span", asChild: true, logged: { traceId: "4bf92f3577b34da6a3ce929d0e0e4736", spanId: "00f067aa0ba902b7", isRemote: true, traceFlags: 1 } });
    expect(planParent(ctx("4bf92f3577b34da6a3ce929d0e0e4736", null), "child")).toEqual({ relation: "trace", asChild: false, joinTraceId: "4bf92f3577b34da6a3ce929d0e0e4736" });
    expect(planParent(ctx(null, "00f067aa0ba902b7"), "child")).toEqual({ relation: "none", asChild: false });
    expect(planParent(ctx("bad", "00f067aa0ba902b7"), "child").relation).toBe("none");
  });

  it("link mode: a new trace linking to the logged span; trace id only is recorded as an attribute", () => {
    expect(planParent(ctx("4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"), "link")).toMatchObject({ relation: "span", asChild: false });
    expect(planParent(ctx("4bf92f3577b34da6a3ce929d0e0e4736", null), "link")).toEqual({ relation: "trace", asChild: false, sourceTraceId: "4bf92f3577b34da6a3ce929d0e0e4736" });
  });
});

describe("span timing", () => {
  it("converts epoch milliseconds to an HrTime (sub-millisecond kept to float precision)", () => {
    expect(msToHrTime(Date.parse("2026-01-01T00:00:00.000Z"))).toEqual([1_767_225_600, 0]);
    const [sec, ns] = msToHrTime(1_767_225_600_123.456);
    expect(sec).toBe(1_767_225_600);
    expect(Math.abs(ns - 123_456_000)).toBeLessThan(1000);
    const [, nanos] = msToHrTime(999.9999999999);
    expect(nanos).toBeLessThan(1e9);
  });
});
