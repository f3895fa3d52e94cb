/**
 * The attribution in a real Arize Phoenix (pip `arize-phoenix`, started locally on 127.0.0.1):
 * an application's trace with an LLM span is sent to Phoenix over OTLP, the call is logged,
 * the real worker (`reagent-stream run`) attributes it and exports to Phoenix. Then Phoenix's
 * REST API must show the attribution span on the ORIGINAL trace, under the LLM span, typed as
 * an evaluator with readable input/output, and the attribution as an annotation on the LLM
 * span. Phoenix's own UI is opened in headless Chromium and screenshotted into
 * test-output/phoenix/ for a person to look at.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-proto";
import { resourceFromAttributes } from "@opentelemetry/resources";
import { BasicTracerProvider, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base";
import { context, trace } from "@opentelemetry/api";
import type { Browser } from "puppeteer-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { artifactPath, writeJsonArtifact } from "./fixtures/artifacts.js";
import { launchBrowser } from "./fixtures/browser.js";
import { cleanEnv, runCli } from "./fixtures/cli.js";
import { startPhoenix, type Phoenix } from "./fixtures/phoenix.js";

const ROOT = resolve(import.meta.dirname, "../..");
const PROMPT = "When my flight landed in Greece, I converted my currency and slowly fell asleep. I was staying in the capital,";
const COMPLETION = " Athens";

interface PhoenixSpan {
  name: string;
  context: { trace_id: string; span_id: string };
  parent_id: string | null;
  span_kind: string;
  attributes: Record<string, unknown>;
}

async function getJson<T>(url: string): Promise<T> {
  const res = await fetch(url);
  if (!res.ok) throw new Error(`GET ${url}: HTTP ${res.status} ${await res.text()}`);
  return (await res.json()) as T;
}

async function until<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

describe("attribution in a real Arize Phoenix", () => {
  let phoenix: Phoenix;
  let browser: Browser | undefined;
  const dir = mkdtempSync(join(tmpdir(), "reagent-phoenix-test-"));
  let traceId = "";
  let llmSpanId = "";

  beforeAll(async () => {
    phoenix = await startPhoenix();
    // The application: a request span and its LLM call, exported to Phoenix as any app would.
    const provider = new BasicTracerProvider({
      resource: resourceFromAttributes({ "service.name": "travel-assistant" }),
      spanProcessors: [new SimpleSpanProcessor(new OTLPTraceExporter({ url: `${phoenix.url}/v1/traces` }))],
    });
    const tracer = provider.getTracer("travel-assistant");
    const root = tracer.startSpan("POST /ask", { attributes: { "openinference.span.kind": "CHAIN", "input.value": "Where was I staying?" } });
    const llm = tracer.startSpan(
      "chat gpt-4o-mini",
      {
        attributes: {
          "openinference.span.kind": "LLM",
          "llm.model_name": "gpt-4o-mini",
          "llm.provider": "openai",
          "input.value": PROMPT,
          "output.value": COMPLETION,
          "llm.input_messages.0.message.role": "user",
          "llm.input_messages.0.message.content": PROMPT,
          "llm.output_messages.0.message.role": "assistant",
          "llm.output_messages.0.message.content": COMPLETION,
        },
      },
      trace.setSpan(context.active(), root),
    );
    traceId = llm.spanContext().traceId;
    llmSpanId = llm.spanContext().spanId;
    llm.end();
    root.end();
    await provider.shutdown();
  }, 900_000);

  afterAll(async () => {
    await browser?.close();
    await phoenix?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("shows the attribution on the original trace, as an evaluator span and an annotation on the LLM span", async () => {
    const logs = join(dir, "logs.jsonl");
    writeFileSync(
      logs,
      `${JSON.stringify({ id: "phoenix-1", trace_id: traceId, span_id: llmSpanId, timestamp: new Date().toISOString(), model: "gpt-4o-mini", provider: "openai", prompt: PROMPT, completion: COMPLETION })}\n`,
    );
    const cfg = join(dir, "worker.yaml");
    writeFileSync(
      cfg,
      [
        `source: { type: file, path: ${JSON.stringify(logs)}, progress: off }`,
        "mapping: { preset: flat }",
        "sampling: { rate: 1 }",
        `scorer: { type: local, path: ${JSON.stringify(join(ROOT, "models/tiny-lm"))} }`,
        "engine: { method: reagent, sampler: pos, num_probes: 8, max_steps: 100, max_targets: 2 }",
        `sinks: [{ type: jsonl, path: ${JSON.stringify(join(dir, "results.jsonl"))} }]`,
        `dead_letter: { type: jsonl, path: ${JSON.stringify(join(dir, "dl.jsonl"))} }`,
        "otel:",
        "  span_text: full",
        "  evaluation_events: true   # Phoenix answers 405 to /v1/logs: asked once, then the span carries the result",
        "  annotations:",
        `    phoenix: { url: ${JSON.stringify(phoenix.url)} }`,
        "logging: { level: warn }",
        "",
      ].join("\n"),
    );
    // Only the standard variable points the worker at Phoenix.
    const r = await runCli(["run", "--config", cfg, "--summary", "none"], cleanEnv({ OTEL_EXPORTER_OTLP_ENDPOINT: phoenix.url }));
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain("does not take logs");

    const spans = await until("the attribution span in Phoenix", async () => {
      const body = await getJson<{ data: PhoenixSpan[] }>(`${phoenix.url}/v1/projects/default/spans?limit=100`);
      return body.data.some((s) => s.name.startsWith("reagent.attribute")) ? body.data : undefined;
    });
    const evalSpan = spans.find((s) => s.name.startsWith("reagent.attribute"))!;
    expect(evalSpan.context.trace_id).toBe(traceId);
    expect(evalSpan.parent_id).toBe(llmSpanId);
    expect(evalSpan.span_kind).toBe("EVALUATOR");
    const attrs = JSON.stringify(evalSpan.attributes);
    expect(attrs).toContain("Greece");
    expect(attrs).toContain("top_spans");

    const annotations = await until("the annotation on the LLM span", async () => {
      const body = await getJson<{ data: { name: string; span_id: string; result: { label: string; score: number; explanation: string } }[] }>(
        `${phoenix.url}/v1/projects/default/span_annotations?span_ids=${llmSpanId}`,
      );
      return body.data.length > 0 ? body.data : undefined;
    });
    expect(annotations[0]).toMatchObject({ name: "reagent.top_spans_share", span_id: llmSpanId, result: { label: expect.stringMatching(/converged/) } });
    expect(annotations[0]!.result.explanation).toContain("top prompt spans");
    writeJsonArtifact("phoenix/spans.json", { trace_id: traceId, llm_span_id: llmSpanId, spans, annotations });

    // Phoenix's UI, in a real browser.
    browser = await launchBrowser();
    const page = await browser.newPage();
    await page.setViewport({ width: 1600, height: 1000 });
    const shots: string[] = [];
    for (const [name, spanId] of [
      ["trace-attribution-span", evalSpan.context.span_id],
      ["trace-llm-span", llmSpanId],
    ] as const) {
      await page.goto(`${phoenix.url}/redirects/spans/${spanId}`, { waitUntil: "networkidle0", timeout: 60_000 });
      await page.waitForFunction('document.body.innerText.includes("reagent.attribute")', { timeout: 60_000 });
      await new Promise((r) => setTimeout(r, 1500));
      const text = String(await page.evaluate("document.body.innerText"));
      expect(text).toContain("chat gpt-4o-mini");
      if (name === "trace-llm-span") {
        // The LLM span's annotations tab lists the attribution.
        const tab = await page.$$("xpath/.//*[@role='tab' and contains(., 'Annotations')]");
        if (tab[0] !== undefined) {
          await tab[0].click();
          await page.waitForFunction('document.body.innerText.includes("reagent.top_spans_share")', { timeout: 30_000 });
          await new Promise((r) => setTimeout(r, 1000));
        }
      }
      const file = artifactPath("phoenix", `${name}.png`);
      await page.screenshot({ path: file, fullPage: false });
      shots.push(file);
    }
    console.log(`[phoenix] screenshots: ${shots.join(", ")}`);
  }, 600_000);
});
