/**
 * Perturbations a text-only scorer can receive. TGI and llama-cpp-python take text, so a
 * perturbed sequence reaches them only when its decoded text re-tokenises to the same ids; one
 * that does not is refused (ScorerMismatchError) and would fail the whole record. With SmolLM2's
 * byte-level BPE about one uniform draw in five on a chat prompt does not round-trip (r = 0.3).
 *
 * This wrapper redraws such a sequence from the same sampler (same rng stream, so results stay
 * deterministic), up to `maxDraws` times, and then puts original tokens back, one changed
 * position at a time from the left, until the sequence round-trips (the original always does).
 * It is used only when the scorer says it is text-only (`Scorer.acceptsIds`), and its
 * description (part of the config hash) says so.
 */
import type { Rng } from "../rng.js";
import type { SampleRequest, SamplerRecordContext, TokenSampler } from "./sampler.js";

export class RoundTripSampler implements TokenSampler {
  readonly id: TokenSampler["id"];
  readonly description: string;

  constructor(
    private readonly inner: TokenSampler,
    private readonly accepts: (ids: readonly number[]) => boolean,
    private readonly maxDraws = 16,
  ) {
    this.id = inner.id;
    this.description = `${inner.description}; redrawn until the text re-tokenises to the same ids (text-only scorer)`;
  }

  async sample(reqs: readonly SampleRequest[], rng: Rng, ctx: SamplerRecordContext): Promise<number[][]> {
    const out = await this.inner.sample(reqs, rng, ctx);
    for (let i = 0; i < out.length; i++) {
      const req = reqs[i] as SampleRequest;
      let ids = out[i] as number[];
      for (let draw = 1; draw < this.maxDraws && !this.accepts(ids); draw++) ids = (await this.inner.sample([req], rng, ctx))[0] as number[];
      for (let j = 0; j < ids.length && !this.accepts(ids); j++) {
        if (ids[j] !== req.ids[j]) ids = ids.map((x, k) => (k === j ? (req.ids[j] as number) : x));
      }
      out[i] = ids;
    }
    return out;
  }
}
