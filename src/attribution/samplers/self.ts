/**
 * The `self` sampler: a replacement is one of the target model's own top-k predictions for
 * that slot from the unperturbed teacher-forced pass (plausible in context, costs no extra
 * model call). Position 0 has no prediction and falls back to the uniform sampler.
 */
import type { Rng } from "../rng.js";
import type { SampleRequest, SamplerRecordContext, TokenSampler } from "./sampler.js";
import type { UniformSampler } from "./uniform.js";
import { SamplerError } from "../../errors.js";

export class SelfSampler implements TokenSampler {
  readonly id = "self" as const;
  readonly description: string;

  constructor(
    private readonly topK: number,
    private readonly special: ReadonlySet<number>,
    private readonly fallback: UniformSampler,
  ) {
    this.description = `self (target model's top-${topK} at each position; uniform at position 0)`;
  }

  sample(reqs: readonly SampleRequest[], rng: Rng, ctx: SamplerRecordContext): Promise<number[][]> {
    const table = ctx.topKByPosition;
    if (!table) {
      return Promise.reject(new SamplerError({ what: "sampling with the self sampler", why: "the engine passed no top-k table from the unperturbed pass" }));
    }
    return Promise.resolve(
      reqs.map(({ ids, replace }) =>
        ids.map((id, i) => {
          if (!replace[i] || this.special.has(id)) return id;
          const options = (table[i] ?? []).slice(0, this.topK).filter((c) => c !== id && !this.special.has(c));
          return options.length > 0 ? (options[rng.int(options.length)] as number) : this.fallback.draw(rng);
        }),
      ),
    );
  }
}
