/**
 * `--model` strings and the `scorer:` config section: parsing, defaults, refusals.
 */
import { describe, expect, it } from "vitest";
import { ConfigError, ScorerUnsupportedError } from "../../../src/errors.js";
import { deprecationsOf } from "../../../src/config-aliases.js";
import { loadAttributionModel, parseModelSpec, resolveScorerConfig, scorerConfigFromSpec, scorerConfigSchema } from "../../../src/models/endpoint.js";

describe("parseModelSpec", () => {
  it("reads local directories and kind+URL specs (model names may contain slashes; /v1 separates a gateway prefix)", () => {
    expect(parseModelSpec("models/tiny-lm")).toEqual({ type: "local", path: "models/tiny-lm" });
    expect(parseModelSpec("vllm+http://gpu-1:8000/model-name")).toEqual({ type: "vllm", url: "http://gpu-1:8000", model: "model-name" });
    expect(parseModelSpec("vllm+http://gpu-1:8000/meta-llama/Llama-3.1-8B")).toEqual({ type: "vllm", url: "http://gpu-1:8000", model: "meta-llama/Llama-3.1-8B" });
    expect(parseModelSpec("vllm-echo+http://h:8000")).toEqual({ type: "vllm-echo", url: "http://h:8000" });
    expect(parseModelSpec("sglang+http://h:30000/")).toEqual({ type: "sglang", url: "http://h:30000" });
    expect(parseModelSpec("tgi+https://tgi.internal")).toEqual({ type: "tgi", url: "https://tgi.internal" });
    expect(parseModelSpec("openai+https://api.example/v1/davinci-002")).toEqual({ type: "openai", url: "https://api.example", model: "davinci-002" });
    expect(parseModelSpec("vllm+https://gw.example/team-a/v1/org/model")).toEqual({ type: "vllm", url: "https://gw.example/team-a", model: "org/model" });
    expect(parseModelSpec("VLLM+http://h:1/m")).toMatchObject({ type: "vllm" });
  });

  it("refuses servers that cannot score a given continuation, saying why and what works", () => {
    for (const [spec, why] of [
      ["ollama+http://localhost:11434/llama3", /Ollama .* generated tokens only/],
      ["anthropic+https://api.anthropic.com/v1/claude", /no logprobs at all/],
      ["openai-chat+https://api.openai.com/v1/gpt-4o", /generated tokens only/],
      ["llama.cpp+http://localhost:8080", /Only no echo is supported/],
      ["lmstudio+http://localhost:1234", /LM Studio/],
    ] as const) {
      const err = (() => {
        try {
          parseModelSpec(spec);
        } catch (e) {
          return e;
        }
        return undefined;
      })();
      expect(err).toBeInstanceOf(ScorerUnsupportedError);
      expect((err as Error).message).toMatch(why);
      expect((err as Error).message).toMatch(/vLLM .*SGLang/);
    }
  });

  it("asks for the kind of a bare URL, lists valid kinds for an unknown one, and hides credentials", () => {
    expect(() => parseModelSpec("http://h:8000/m")).toThrow(/say which server speaks at this URL/);
    expect(() => parseModelSpec("triton+http://h:8000/m")).toThrow(/unknown server kind "triton"; valid: vllm, vllm-echo, sglang, tgi, openai/);
    expect(() => parseModelSpec("vllm+http://h:8000/m?x=1")).toThrow(ConfigError);
    const withAuth = parseModelSpec("vllm+https://user:s3cret@h/v1/m");
    expect(withAuth).toEqual({ type: "vllm", url: "https://user:s3cret@h", model: "m" });
    expect(() => parseModelSpec("bogus+https://user:s3cret@h/v1/m")).toThrow(/^(?!.*s3cret)/);
  });
});

describe("scorer config", () => {
  it("fills safe defaults", () => {
    const c = resolveScorerConfig({ type: "vllm", url: "http://h:8000", tokenizer: "models/tiny-lm" });
    expect(c).toMatchObject({
      timeout_ms: 30_000,
      max_concurrency: 4,
      self_test: "fail",
      retry: { max_attempts: 4, initial_backoff_ms: 250, max_backoff_ms: 8_000 },
      max_retry_after_ms: 60_000,
      rate_limit: { burst_seconds: 1 },
      breaker: { failure_threshold: 5, cool_down_ms: 30_000 },
    });
    expect(resolveScorerConfig({ type: "tgi", url: "http://h:8000", tokenizer: "models/tiny-lm" })).toMatchObject({ tgi_top_k: "probe" });
  });

  it("gives llama-cpp-python (one request at a time, seconds per sequence) its own timeout and concurrency defaults", () => {
    expect(parseModelSpec("llama-cpp-python+http://127.0.0.1:8000/smollm2")).toEqual({ type: "llama-cpp-python", url: "http://127.0.0.1:8000", model: "smollm2" });
    expect(resolveScorerConfig({ type: "vllm", url: "http://h:8000", tokenizer: "models/tiny-lm" })).toMatchObject({ timeout_ms: 30_000, max_concurrency: 4 });
    expect(resolveScorerConfig({ type: "llama-cpp-python", url: "http://h:8000", tokenizer: "models/tiny-lm" })).toMatchObject({ timeout_ms: 300_000, max_concurrency: 2 });
    expect(resolveScorerConfig({ type: "llama-cpp-python", url: "http://h:8000", tokenizer: "models/tiny-lm", timeout_ms: 5_000, max_concurrency: 1 })).toMatchObject({ timeout_ms: 5_000, max_concurrency: 1 });
  });

  it("gives each type its own knobs", () => {
    expect(() => resolveScorerConfig({ type: "vllm", url: "http://h", tokenizer: "t", tgi_top_k: "bound" })).toThrow(/scorer\.tgi_top_k: unknown field/);
    expect(() => resolveScorerConfig({ type: "local", path: "m", url: "http://h" })).toThrow(/scorer\.url: unknown field/);
    expect(() => resolveScorerConfig({ type: "sglang", url: "http://h", tokenizer: "t", echo_max_tokens: 0 })).toThrow(/scorer\.echo_max_tokens/);
    expect(resolveScorerConfig({ type: "openai", url: "http://h", tokenizer: "t", echo_max_tokens: 0 })).toMatchObject({ echo_max_tokens: 0 });
  });

  it("reads the old kind and retries names for one release, with a deprecation for config check", () => {
    const c = resolveScorerConfig({ kind: "vllm", url: "http://h", tokenizer: "t", retries: { max_attempts: 2, base_delay_ms: 10, max_delay_ms: 20, max_retry_after_ms: 5 } });
    expect(c).toMatchObject({ type: "vllm", retry: { max_attempts: 2, initial_backoff_ms: 10, max_backoff_ms: 20 }, max_retry_after_ms: 5 });
    expect(deprecationsOf(c).map((d) => d.path)).toEqual(["scorer.kind", "scorer.retries"]);
    expect(() => resolveScorerConfig({ kind: "anthropic", url: "https://api.anthropic.com" })).toThrow(ScorerUnsupportedError);
  });

  it("names the field that is wrong", () => {
    expect(() => resolveScorerConfig({ type: "vllm", tokenizer: "t" })).toThrow(/scorer\.url: missing: type vllm needs url/);
    expect(() => resolveScorerConfig({ type: "vllm", url: "http://h" })).toThrow(/scorer\.tokenizer/);
    expect(() => resolveScorerConfig({ type: "local" })).toThrow(/scorer\.path/);
    expect(() => resolveScorerConfig({ type: "vllm", url: "http://h", tokenizer: "t", timeout: 5 })).toThrow(ConfigError);
    expect(() => resolveScorerConfig({ type: "vllm", url: "http://h", tokenizer: "t", api_key: "k", api_key_env: "K" })).toThrow(/not both/);
    expect(() => resolveScorerConfig({ type: "vllm", url: "ftp://h", tokenizer: "t" })).toThrow(/scorer\.url/);
    expect(() => resolveScorerConfig({ type: "vllm", url: "http://h", tokenizer: "t", retry: { max_attempts: 0 } })).toThrow(/scorer\.retry\.max_attempts/);
    expect(() => resolveScorerConfig({ type: "anthropic", url: "https://api.anthropic.com" })).toThrow(ScorerUnsupportedError);
  });

  it("expands --model strings, with CLI extras", () => {
    expect(scorerConfigFromSpec("vllm+http://h:8000/m", { tokenizer: "models/tiny-lm", max_batch: 8 })).toMatchObject({ type: "vllm", url: "http://h:8000", model: "m", tokenizer: "models/tiny-lm", max_batch: 8 });
    expect(scorerConfigFromSpec("models/tiny-lm")).toMatchObject({ type: "local", path: "models/tiny-lm" });
    expect(() => scorerConfigFromSpec("vllm+http://h:8000/m")).toThrow(/model\.tokenizer/);
  });

  it("is a zod schema other configs can embed", () => {
    expect(scorerConfigSchema.safeParse({ type: "local", path: "models/tiny-lm" }).success).toBe(true);
  });

  it("loads a local model through the same entry point", async () => {
    const m = await loadAttributionModel("models/tiny-lm");
    expect(m.source).toBe("local");
    expect(m.scorer.info.kind).toBe("onnx");
    expect(m.addBos).toBe(true);
    await m.close();
  });
});
