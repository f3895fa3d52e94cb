/**
 * The worker's bridge from an endpoint scorer's events to PipelineMetrics (src/app/worker.ts):
 * request outcomes, and the circuit breaker's state from the first request on.
 */
import { describe, expect, it } from "vitest";
import { scorerEventMetrics } from "../../../src/app/worker.js";
import type { ScorerEvent } from "../../../src/models/endpoint.js";
import { noopMetrics, type PipelineMetrics } from "../../../src/pipeline/contracts.js";

function recorder(): { metrics: PipelineMetrics; calls: string[] } {
  const calls: string[] = [];
  const metrics: PipelineMetrics = {
    ...noopMetrics,
    endpointRequest: (model, ms, outcome) => calls.push(`request ${model} ${ms} ${outcome}`),
    endpointBreaker: (model, state) => calls.push(`breaker ${model} ${state}`),
  };
  return { metrics, calls };
}

const request = (ok: boolean, errorKind?: "server_error"): ScorerEvent => ({
  type: "request",
  endpoint: "http://vllm:8000",
  path: "/v1/completions",
  attempt: 1,
  ok,
  ...(errorKind ? { errorKind } : {}),
  latencyMs: 12,
  sequences: 4,
  promptTokens: 100,
});

describe("scorerEventMetrics", () => {
  it("records closed at the first request, then each breaker transition, and every request's outcome", () => {
    const { metrics, calls } = recorder();
    const on = scorerEventMetrics(metrics, "llama");
    on(request(true));
    on(request(false, "server_error"));
    on({ type: "breaker", endpoint: "http://vllm:8000", from: "closed", to: "open" });
    on({ type: "retry", endpoint: "http://vllm:8000", path: "/v1/completions", attempt: 2, delayMs: 100, errorKind: "server_error" });
    on({ type: "breaker", endpoint: "http://vllm:8000", from: "open", to: "half_open" });
    on(request(true));
    on({ type: "breaker", endpoint: "http://vllm:8000", from: "half_open", to: "closed" });
    expect(calls).toEqual([
      "breaker llama closed",
      "request llama 12 ok",
      "request llama 12 server_error",
      "breaker llama open",
      "breaker llama half_open",
      "request llama 12 ok",
      "breaker llama closed",
    ]);
  });

  it("records no breaker state before the scorer has sent anything", () => {
    const { metrics, calls } = recorder();
    const on = scorerEventMetrics(metrics, "llama");
    on({ type: "throttled", endpoint: "http://vllm:8000", limiter: "requests", waitedMs: 5 });
    expect(calls).toEqual([]);
  });
});
