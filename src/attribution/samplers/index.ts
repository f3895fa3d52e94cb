/**
 * The sampler registry: ids from config -> a constructed sampler. Built explicitly (no import
 * side effects); an unknown id lists the valid ones.
 */
import { samplerIds, type SamplerId } from "../config.js";
import { ConfigError, UnknownComponentError } from "../../errors.js";
import type { TokenSampler } from "./sampler.js";
import { UniformSampler } from "./uniform.js";
import { PosSampler, loadOrBuildPosTable, type PosTableTokenizer } from "./pos.js";
import { SelfSampler } from "./self.js";
import { MlmSampler, type MaskedLm, type TargetTokenizerView } from "./mlm.js";

export type { TokenSampler, SampleRequest, SamplerRecordContext } from "./sampler.js";
export type { MaskedLm } from "./mlm.js";

export interface SamplerDeps {
  readonly tokenizer: PosTableTokenizer & TargetTokenizerView;
  /** Ids the target model can take: min(tokenizer size, model vocabulary). */
  readonly vocabSize: number;
  /** Where the POS table is cached; undefined disables the disk cache. */
  readonly cacheDir?: string;
  /** Required for `mlm`. */
  readonly maskedLm?: MaskedLm;
  readonly mlmTopK?: number;
  readonly selfTopK?: number;
}

export function listSamplers(): readonly SamplerId[] {
  return samplerIds;
}

export function createSampler(id: string, deps: SamplerDeps): TokenSampler {
  const special = deps.tokenizer.specialIds;
  switch (id as SamplerId) {
    case "uniform":
      return new UniformSampler(deps.vocabSize, special);
    case "pos":
      return new PosSampler(loadOrBuildPosTable(deps.tokenizer, deps.cacheDir), deps.vocabSize);
    case "self":
      return new SelfSampler(deps.selfTopK ?? 5, special, new UniformSampler(deps.vocabSize, special));
    case "mlm":
      if (!deps.maskedLm) {
        throw new ConfigError({
          what: "creating the mlm sampler",
          why: "no masked LM is configured; point engine.mlm_model at an ONNX masked LM directory (the bundled one is models/tiny-mlm)",
          path: "engine.mlm_model",
        });
      }
      return new MlmSampler(deps.maskedLm, deps.tokenizer, deps.mlmTopK ?? 5);
    default:
      throw new UnknownComponentError("sampler", id, samplerIds);
  }
}
