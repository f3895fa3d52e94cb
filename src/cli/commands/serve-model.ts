/**
 * `reagent-stream serve-model`: serve a local ONNX model over a vLLM-compatible HTTP API, so the
 * endpoint path can be tried (and tested) without a GPU. `reagent-stream check-model` runs the
 * start-up self-test against any `--model` and prints what it found.
 *
 * @see docs/endpoints.md
 */
import { InvalidArgumentError, type Command } from "commander";
import { ConfigError } from "../../errors.js";
import { loadAttributionModel, parseModelSpec } from "../../models/endpoint.js";
import { ModelServer } from "../../models/http/serve-model.js";
import { ServedModel } from "../../models/http/served-model.js";

function intArg(name: string, min: number, max = Number.MAX_SAFE_INTEGER) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min || n > max) throw new InvalidArgumentError(`${name} must be an integer in [${min}, ${max}]`);
    return n;
  };
}

interface ServeFlags {
  model: string;
  port: number;
  host: string;
  servedModelName?: string;
  maxLogprobs: number;
  maxPrompts: number;
  threads?: number;
  apiKeyEnv?: string;
}

interface CheckFlags {
  model: string;
  tokenizer?: string;
}

/** Registers `serve-model` and `check-model`. */
export function registerServeModel(program: Command): void {
  program
    .command("serve-model")
    .description("Serve a local ONNX model over a vLLM-compatible HTTP API (/v1/completions with prompt_logprobs and echo, /tokenize, /v1/models)")
    .requiredOption("--model <dir>", "local ONNX model directory (model.onnx, config.json, tokenizer.json)")
    .option("--port <n>", "port (0 picks a free one)", intArg("--port", 0, 65_535), 8000)
    .option("--host <host>", "address to bind", "127.0.0.1")
    .option("--served-model-name <name>", "model name clients send (default: the directory name)")
    .option("--max-logprobs <n>", "largest logprobs / prompt_logprobs accepted (vLLM --max-logprobs)", intArg("--max-logprobs", 1), 20)
    .option("--max-prompts <n>", "longest prompt list per request", intArg("--max-prompts", 1), 1024)
    .option("--threads <n>", "onnxruntime intra-op threads", intArg("--threads", 1))
    .option("--api-key-env <name>", "environment variable holding a bearer token that every request but GET /health must send (clients: scorer api_key_env)")
    .action(async (flags: ServeFlags) => {
      await serve(flags);
    });

  program
    .command("check-model")
    .description("Detect a scoring endpoint, run the start-up self-test and print what it supports (exit code 2 when not ready)")
    .requiredOption("--model <spec>", "vllm+http://host:8000/<model>, sglang+…, tgi+…, openai+…, or a local directory")
    .option("--tokenizer <dir>", "directory with the served model's tokenizer.json (required for endpoints)")
    .action(async (flags: CheckFlags) => {
      const spec = parseModelSpec(flags.model);
      if (spec.type === "local") {
        const m = await loadAttributionModel(flags.model);
        process.stdout.write(`local model ${flags.model}: ${m.scorer.info.id}, vocabulary ${m.scorer.capabilities.vocabSize ?? "?"}, ready\n`);
        await m.close();
        return;
      }
      const m = await loadAttributionModel(
        { type: spec.type, url: spec.url, ...(spec.model === undefined ? {} : { model: spec.model }), ...(flags.tokenizer === undefined ? {} : { tokenizer: flags.tokenizer }), self_test: "warn" },
        { log: (text) => process.stdout.write(`${text}\n`) },
      );
      if (m.report && !m.report.ok) process.exitCode = 2;
      await m.close();
    });
}

async function serve(flags: ServeFlags): Promise<void> {
  let apiKey: string | undefined;
  if (flags.apiKeyEnv !== undefined) {
    apiKey = process.env[flags.apiKeyEnv];
    if (apiKey === undefined || apiKey === "") throw new ConfigError({ what: "reading --api-key-env", why: `${flags.apiKeyEnv} is not set (or empty)`, path: "--api-key-env" });
  }
  const model = await ServedModel.load({
    dir: flags.model,
    ...(flags.servedModelName === undefined ? {} : { name: flags.servedModelName }),
    ...(flags.threads === undefined ? {} : { intraOpThreads: flags.threads }),
  });
  const server = new ModelServer({
    model,
    maxLogprobs: flags.maxLogprobs,
    maxPrompts: flags.maxPrompts,
    log: (line) => process.stderr.write(`${line}\n`),
    apiKey,
  });
  const { url } = await server.listen(flags.port, flags.host);
  process.stdout.write(`serve-model: serving ${model.dir} as "${model.name}" on ${url}\n`);
  process.stdout.write(`serve-model: use --model vllm+${url}/${model.name} --tokenizer ${flags.model}\n`);
  if (apiKey !== undefined) process.stdout.write(`serve-model: requests need "Authorization: Bearer <${flags.apiKeyEnv}>" (scorer: api_key_env: ${flags.apiKeyEnv})\n`);
  await new Promise<void>((resolve) => {
    const stop = (signal: string): void => {
      process.stderr.write(`serve-model: ${signal}: finishing in-flight requests\n`);
      server.close().then(
        () => {
          process.stderr.write("serve-model: stopped\n");
          resolve();
        },
        (err: unknown) => {
          process.stderr.write(`serve-model: shutdown failed: ${String(err)}\n`);
          process.exitCode = 1;
          resolve();
        },
      );
    };
    process.once("SIGTERM", () => stop("SIGTERM"));
    process.once("SIGINT", () => stop("SIGINT"));
  });
}
