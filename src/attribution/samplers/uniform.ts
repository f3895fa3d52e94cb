import type { Rng } from "../rng.js";
import { SamplerError } from "../../errors.js";
import { drawableIds, type SampleRequest, type TokenSampler } from "./sampler.js";

/** A uniformly random vocabulary token; special tokens are never drawn nor replaced. */
export class UniformSampler implements TokenSampler {
  readonly id = "uniform" as const;
  readonly description: string;
  private readonly pool: Int32Array;

  constructor(
    vocabSize: number,
    private readonly special: ReadonlySet<number>,
  ) {
    this.pool = drawableIds(vocabSize, special);
    if (this.pool.length === 0) throw new SamplerError({ what: "building uniform sampler", why: "the vocabulary has no non-special token" });
    this.description = `uniform (${this.pool.length} drawable ids)`;
  }

  draw(rng: Rng): number {
    return this.pool[rng.int(this.pool.length)] as number;
  }

  sample(reqs: readonly SampleRequest[], rng: Rng): Promise<number[][]> {
    return Promise.resolve(
      reqs.map(({ ids, replace }) => ids.map((id, i) => (replace[i] && !this.special.has(id) ? this.draw(rng) : id))),
    );
  }
}
