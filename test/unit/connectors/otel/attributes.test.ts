import { readFileSync } from "node:fs";
import type { Attributes, AttributeValue } from "@opentelemetry/api";
import { ProtobufTraceSerializer } from "@opentelemetry/otlp-transformer";
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base";
import { describe, expect, it } from "vitest";
import {
  ATTR,
  ATTRIBUTE_SPECS,
  CONTENT_ATTRIBUTES,
  attributionAttributes,
  binSequence,
  failureAttributes,
  topSpansShare,
  type AttributeOptions,
  type AttributeType,
} from "../../../../connectors/otel/attributes.js";
import { emptyRecordContext } from "../../../../schemas/attribution-result.js";
import { COMPLETION_WORD, PROMPT_WORD, syntheticResult } from "./synthetic-result.js";

const defaults: AttributeOptions = {
  maxSpans: 10,
  maxSegments: 16,
  sequenceMaxLen: 64,
  valueLengthLimit: 1024,
  spanText: "none",
  standardAttributes: true,
};

const context = {
  record_id: "rec-42",
  trace_id: "4bf92f3577b34da6a3ce929d0e0e4736",
  span_id: "00f067aa0ba902b7",
  response_id: "chatcmpl-123",
  provider: "openai",
  logged_model: "gpt-4o-mini",
};

function typeOf(v: AttributeValue): AttributeType | "other" {
  const scalar = (x: unknown): string => (typeof x === "string" ? "string" : typeof x === "boolean" ? "boolean" : typeof x === "number" ? (Number.isInteger(x) ? "int" : "double") : "other");
  if (Array.isArray(v)) {
    const kinds = new Set(v.map(scalar));
    if (kinds.size === 1) return `${[...kinds][0]}[]` as AttributeType;
    if (kinds.size === 2 && kinds.has("int") && kinds.has("double")) return "double[]";
    return "other";
  }
  return scalar(v) as AttributeType;
}

/** A double attribute may be whole (0, 1): accept int where double is declared. */
function compatible(actual: string, declared: AttributeType): boolean {
  if (actual === declared) return true;
  if (declared === "double" && actual === "int") return true;
  if (declared === "double[]" && actual === "int[]") return true;
  return false;
}

function strings(a: Attributes): string[] {
  return Object.values(a).flatMap((v) => (typeof v === "string" ? [v] : Array.isArray(v) ? v.filter((x): x is string => typeof x === "string") : []));
}

/** Name and type of every row of the attribute table in schemas/otel-attributes.md. */
function documented(): Map<string, string> {
  const md = readFileSync(new URL("../../../../schemas/otel-attributes.md", import.meta.url), "utf8");
  const section = md.split("## Attributes")[1]!.split("\n## ")[0]!;
  const rows = new Map<string, string>();
  for (const line of section.split("\n")) {
    const m = /^\| `([^`]+)` \| ([a-z[\]]+) \|/.exec(line);
    if (m) rows.set(m[1]!, m[2]!);
  }
  return rows;
}

describe("attribution span attributes", () => {
  const result = syntheticResult({ promptTokens: 40, messages: 2, spans: 5, context });

  it("sets every attribute with its declared type", () => {
    const a = attributionAttributes(result, defaults, { parent: "span" });
    const specs = new Map(ATTRIBUTE_SPECS.map((s) => [s.name, s.type]));
    for (const [k, v] of Object.entries(a)) {
      expect(specs.has(k), `undeclared attribute ${k}`).toBe(true);
      expect(compatible(typeOf(v!), specs.get(k)!), `${k}: ${typeOf(v!)} vs ${specs.get(k)}`).toBe(true);
    }
    expect(a[ATTR.attributionId]).toBe(result.attribution_id);
    expect(a[ATTR.genAiProvider]).toBe("openai");
    expect(a[ATTR.genAiRequestModel]).toBe("gpt-4o-mini");
    expect(a[ATTR.genAiResponseId]).toBe("chatcmpl-123");
    expect(a[ATTR.spanKind]).toBe("EVALUATOR");
    expect(a[ATTR.evalName]).toBe("reagent.top_spans_share");
    expect(a[ATTR.evalLabel]).toBe(result.convergence.converged ? "converged" : "not_converged");
    expect(JSON.parse(a[ATTR.outputValue] as string)).toMatchObject({ attribution_id: result.attribution_id });
    expect(a[ATTR.parent]).toBe("span");
    expect(a[ATTR.unitLevel]).toBe("token");
    expect(a[ATTR.stoppingRule]).toBe("ensemble");
    expect(a[ATTR.probesConverged]).toBe(result.convergence.probes_converged);
    expect(a[ATTR.tokensProcessed]).toBe(123_456_789);
    expect(a[ATTR.spansStart]).toEqual(result.spans.map((s) => s.start));
    expect(a[ATTR.spansScore]).toHaveLength(5);
    expect(a[ATTR.sequenceImportance]).toHaveLength(40);
    expect(a[ATTR.sequenceBinSize]).toBe(1);
    expect(a[ATTR.faithfulnessName]).toEqual(["comprehensiveness", "sufficiency"]);
    expect(a[ATTR.faithfulnessValue]).toEqual([0.42, 0.13]);
    // no attribute of a successful span is a failure-only one
    expect(a[ATTR.errorType]).toBeUndefined();
  });

  it("carries no prompt or completion text unless span text capture is opted in", () => {
    const a = attributionAttributes(result, defaults, { parent: "span" });
    const text = JSON.stringify(a);
    expect(text).not.toContain(PROMPT_WORD);
    expect(text).not.toContain(COMPLETION_WORD);
    expect(a[ATTR.spansText]).toBeUndefined();
    for (const k of Object.keys(a)) if (!CONTENT_ATTRIBUTES.includes(k)) expect(JSON.stringify(a[k]), k).not.toContain(PROMPT_WORD);

    const opted = attributionAttributes(result, { ...defaults, spanText: "full" }, { parent: "span" });
    expect(opted[ATTR.spansText]).toEqual(result.spans.map((s) => result.prompt.text.slice(s.start, s.end)));
    expect(JSON.stringify(opted)).toContain(PROMPT_WORD);
    expect(opted[ATTR.inputValue]).toContain(COMPLETION_WORD);
  });

  it("leaves out the gen_ai identifying attributes when standard_attributes is off", () => {
    const a = attributionAttributes(result, { ...defaults, standardAttributes: false }, { parent: "span" });
    expect(Object.keys(a).filter((k) => k.startsWith("gen_ai."))).toEqual([]);
  });

  it("omits what the record does not know", () => {
    const bare = syntheticResult({ promptTokens: 10, spans: 0, faithfulness: null, context: {} });
    const a = attributionAttributes(bare, defaults);
    for (const k of [ATTR.recordId, ATTR.genAiProvider, ATTR.genAiRequestModel, ATTR.genAiResponseId, ATTR.spansStart, ATTR.faithfulnessName, ATTR.sourceTraceId]) {
      expect(a[k], k).toBeUndefined();
    }
    expect(a[ATTR.parent]).toBe("none");
    expect(a[ATTR.spansCount]).toBe(0);
  });

  it("caps arrays by config and keeps the largest segments", () => {
    const many = syntheticResult({ promptTokens: 300, messages: 30, spans: 20, context });
    const a = attributionAttributes(many, { ...defaults, maxSpans: 3, maxSegments: 4, sequenceMaxLen: 16 }, { parent: "span" });
    for (const k of [ATTR.spansStart, ATTR.spansEnd, ATTR.spansTokenStart, ATTR.spansTokenEnd, ATTR.spansScore, ATTR.spansSegment]) expect(a[k]).toHaveLength(3);
    expect(a[ATTR.spansCount]).toBe(3);
    expect(a[ATTR.segmentsName]).toHaveLength(4);
    const shares = a[ATTR.segmentsShare] as number[];
    expect([...shares].sort((x, y) => y - x)).toEqual(shares);
    expect((a[ATTR.sequenceImportance] as number[]).length).toBeLessThanOrEqual(16);
    expect(a[ATTR.sequenceLength]).toBe(300);
    expect(a[ATTR.sequenceBinSize]).toBe(Math.ceil(300 / 16));
  });

  it("cuts every string to the value length limit", () => {
    const long = "m".repeat(5000);
    const r = syntheticResult({ promptTokens: 20, context: { ...context, logged_model: long, record_id: long } });
    const a = attributionAttributes(r, { ...defaults, valueLengthLimit: 64, spanText: "full" }, { parent: "span" });
    for (const s of strings(a)) expect(s.length).toBeLessThanOrEqual(64);
    expect(a[ATTR.genAiRequestModel]).toBe("m".repeat(64));
  });

  it("sequence_max_len 0 leaves the importance vector out", () => {
    const a = attributionAttributes(result, { ...defaults, sequenceMaxLen: 0 });
    expect(a[ATTR.sequenceImportance]).toBeUndefined();
    expect(a[ATTR.sequenceLength]).toBe(40);
  });

  it("failure attributes identify the call and the error", () => {
    const a = failureAttributes(
      { context: { ...emptyRecordContext, ...context }, model: "tiny-lm", code: "scorer_http", message: "scoring batch: HTTP 503", startedAt: new Date(1000), endedAt: new Date(1250) },
      defaults,
      { parent: "span" },
    );
    expect(a).toMatchObject({ [ATTR.errorType]: "scorer_http", [ATTR.errorCode]: "scorer_http", [ATTR.scorerModel]: "tiny-lm", [ATTR.durationMs]: 250, [ATTR.recordId]: "rec-42" });
    const failureNames = new Set(ATTRIBUTE_SPECS.filter((s) => s.onFailure).map((s) => s.name));
    for (const k of Object.keys(a)) expect(failureNames.has(k), k).toBe(true);
  });

  it("top spans share is the summed score of the reported spans", () => {
    expect(topSpansShare(result, 10)).toBeCloseTo(result.spans.reduce((s, x) => s + x.score, 0), 5);
    expect(topSpansShare(result, 1)).toBeCloseTo(result.spans[0]!.score, 5);
  });
});

describe("binSequence", () => {
  it("is exact when the prompt fits and sums bins otherwise", () => {
    expect(binSequence([0.5, 0.25, 0.25], 4)).toEqual({ values: [0.5, 0.25, 0.25], binSize: 1 });
    const v = Array.from({ length: 10 }, () => 0.1);
    const b = binSequence(v, 4);
    expect(b.binSize).toBe(3);
    expect(b.values).toHaveLength(4);
    expect(b.values.map((x) => Math.round(x * 1000) / 1000)).toEqual([0.3, 0.3, 0.3, 0.1]);
    expect(b.values.reduce((s, x) => s + x, 0)).toBeCloseTo(1, 6);
    expect(binSequence(v, 0)).toEqual({ values: [], binSize: 0 });
  });

  it("never returns more than maxLen values", () => {
    for (const n of [1, 63, 64, 65, 127, 128, 129, 4096, 4097, 10_000]) {
      for (const max of [1, 7, 64, 1024]) {
        const b = binSequence(Array.from({ length: n }, () => 1 / n), max);
        expect(b.values.length).toBeLessThanOrEqual(max);
        expect(b.values.reduce((s, x) => s + x, 0)).toBeCloseTo(1, 3);
      }
    }
  });
});

describe("schemas/otel-attributes.md", () => {
  it("documents exactly the attributes the code sets, with the same types", () => {
    const doc = documented();
    expect(doc.size).toBeGreaterThan(40);
    expect(new Map(ATTRIBUTE_SPECS.map((s) => [s.name, s.type]))).toEqual(doc);
  });

  it("uses no new gen_ai.* names: only the standard identifying and evaluation ones", () => {
    const genAi = ATTRIBUTE_SPECS.map((s) => s.name).filter((n) => n.startsWith("gen_ai."));
    expect(genAi.sort()).toEqual([
      "gen_ai.evaluation.explanation",
      "gen_ai.evaluation.name",
      "gen_ai.evaluation.score.label",
      "gen_ai.evaluation.score.value",
      "gen_ai.provider.name",
      "gen_ai.request.model",
      "gen_ai.response.id",
    ]);
    const openInference = ["openinference.span.kind", "input.value", "input.mime_type", "output.value", "output.mime_type"];
    for (const s of ATTRIBUTE_SPECS) expect(s.name.startsWith("reagent.") || s.name.startsWith("gen_ai.") || s.name === "error.type" || openInference.includes(s.name), s.name).toBe(true);
  });
});

describe("a 4k-token prompt stays inside the SDK's attribute limits", () => {
  it("measures count, string length, array sizes and encoded bytes", async () => {
    const big = syntheticResult({ promptTokens: 4096, completionTokens: 64, messages: 16, spans: 10, context });
    const attrs = attributionAttributes(big, defaults, { parent: "span" });

    const count = Object.keys(attrs).length;
    const longest = Math.max(...strings(attrs).map((s) => s.length));
    const arrays = Object.entries(attrs).filter(([, v]) => Array.isArray(v)) as [string, unknown[]][];
    const elements = arrays.reduce((s, [, v]) => s + v.length, 0);
    expect(count).toBeLessThanOrEqual(ATTRIBUTE_SPECS.length);
    expect(ATTRIBUTE_SPECS.length).toBeLessThan(128);
    expect(longest).toBeLessThanOrEqual(defaults.valueLengthLimit);
    expect(attrs[ATTR.sequenceImportance]).toHaveLength(64);
    expect(attrs[ATTR.sequenceBinSize]).toBe(64);
    expect(attrs[ATTR.spansStart]).toHaveLength(10);
    expect((attrs[ATTR.segmentsName] as string[]).length).toBeLessThanOrEqual(16);

    // Through the real SDK with its default span limits: nothing dropped, nothing truncated.
    const mem = new InMemorySpanExporter();
    const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(mem)], spanLimits: { attributeValueLengthLimit: defaults.valueLengthLimit } });
    provider.getTracer("t").startSpan("reagent.attribute gpt-4o-mini", { attributes: attrs }).end();
    await provider.forceFlush();
    const [span] = mem.getFinishedSpans();
    expect(span!.droppedAttributesCount).toBe(0);
    expect(span!.attributes).toEqual(attrs);
    const bytes = ProtobufTraceSerializer.serializeRequest([span!])!.length;

    // The naive alternative: the full per-token vector on the span.
    mem.reset();
    provider
      .getTracer("t")
      .startSpan("naive", { attributes: { ...attrs, [ATTR.sequenceImportance]: big.sequence.importance } })
      .end();
    await provider.forceFlush();
    const naiveBytes = ProtobufTraceSerializer.serializeRequest(mem.getFinishedSpans())!.length;
    await provider.shutdown();

    console.log(
      `[otel 4k measurement] prompt tokens 4096: ${count} attributes (limit 128), 0 dropped, longest string ${longest} (limit ${defaults.valueLengthLimit}), ` +
        `${arrays.length} arrays / ${elements} elements, sequence 64 values (bin 64), OTLP protobuf ${bytes} bytes; full 4096-value vector instead: ${naiveBytes} bytes`,
    );
    // The figures quoted in schemas/otel-attributes.md ("Measured"): update both together.
    expect(count).toBe(53);
    expect(elements).toBe(176);
    expect(bytes).toBeLessThan(6_000);
    expect(naiveBytes).toBeGreaterThan(40_000);
    expect(ATTRIBUTE_SPECS.length).toBe(58);
  });
});
