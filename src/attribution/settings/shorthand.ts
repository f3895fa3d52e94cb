/**
 * Every engine section is a union of strategies discriminated by `type`, each owning its knobs.
 * A section may also be written as just its type name (`sampler: pos`, `method: loo`), which
 * means that strategy with its defaults. The shorthand is lifted before zod sees the union, so
 * errors name the discriminator ("expected 'pos' | 'mlm' …") and the JSON Schema shows the union.
 */
import { z } from "zod";

export function withTypeShorthand<T extends z.ZodType>(union: T) {
  return z.preprocess((v) => (typeof v === "string" ? { type: v } : v), union);
}
