/**
 * The composition root for attribution: model spec + engine settings -> a ready AttributionEngine.
 * The CLI, the demo and the worker all build engines here, so a setting means the same thing
 * everywhere.
 */
import { resolve } from "node:path";
import { PACKAGE_ROOT } from "../package-root.js";
import { AttributionEngine, type AttributionModel } from "../attribution/engine.js";
import { resolveEngineConfig, type EngineConfigInput } from "../attribution/config.js";
import { createSampler } from "../attribution/samplers/index.js";
import type { SegmentRule } from "../text/segments.js";
import { loadLocalModel } from "../models/local-model.js";
import { OnnxMaskedLm } from "../models/onnx/onnx-masked-lm.js";

/** Bundled defaults, relative to the package root. */
export const BUNDLED_LM_DIR = resolve(PACKAGE_ROOT, "models/tiny-lm");
export const BUNDLED_MLM_DIR = resolve(PACKAGE_ROOT, "models/tiny-mlm");
export const DEFAULT_CACHE_DIR = resolve(process.env.REAGENT_CACHE_DIR ?? ".cache/reagent-stream");

export interface EngineFactoryOptions {
  /** A loaded model, or a local ONNX directory to load. */
  readonly model: AttributionModel | string;
  readonly engine?: EngineConfigInput;
  /** Masked LM directory for the `mlm` sampler (default: the bundled one). */
  readonly mlmModel?: string;
  readonly cacheDir?: string;
  readonly segments?: readonly SegmentRule[];
  readonly maxSpans?: number;
  readonly intraOpThreads?: number;
}

export interface BuiltEngine {
  readonly engine: AttributionEngine;
  readonly model: AttributionModel;
  close(): Promise<void>;
}

export async function buildEngine(opts: EngineFactoryOptions): Promise<BuiltEngine> {
  const cfg = resolveEngineConfig(opts.engine ?? {});
  const threads = opts.intraOpThreads === undefined ? {} : { intraOpThreads: opts.intraOpThreads };
  const model = typeof opts.model === "string" ? await loadLocalModel(opts.model, threads) : opts.model;
  const mlm = cfg.sampler.type === "mlm" ? await OnnxMaskedLm.load(opts.mlmModel ?? BUNDLED_MLM_DIR, threads) : undefined;
  const vocab = Math.min(model.tokenizer.size, model.scorer.capabilities.vocabSize ?? model.tokenizer.size);
  const sampler = createSampler(cfg.sampler.type, {
    tokenizer: model.tokenizer,
    vocabSize: vocab,
    cacheDir: opts.cacheDir ?? DEFAULT_CACHE_DIR,
    ...(cfg.sampler.type === "mlm" || cfg.sampler.type === "self" ? { mlmTopK: cfg.sampler.top_k, selfTopK: cfg.sampler.top_k } : {}),
    ...(mlm ? { maskedLm: mlm } : {}),
  });
  const engine = new AttributionEngine(model, sampler, cfg, {
    ...(opts.segments ? { segments: opts.segments } : {}),
    ...(opts.maxSpans === undefined ? {} : { maxSpans: opts.maxSpans }),
  });
  return {
    engine,
    model,
    close: async () => {
      await mlm?.close();
      if (typeof opts.model === "string") await model.scorer.close();
    },
  };
}
