/**
 * `engine.faithfulness`: a per-record quality score stored with the result (docs/attribution.md).
 * `deletion` replaces the record's top features (by sequence importance) and, for comparison,
 * random features of the same count, and reports how much more the top ones mattered as
 * ln-ratios against random (> 0: better than random), within `budget` sequences.
 * `seed_check` attributes the record a second time with seed + 1 and reports the top-3 overlap.
 */
import { z } from "zod";
import { withTypeShorthand } from "./shorthand.js";

export const faithfulnessSettingsSchema = z.discriminatedUnion("type", [
  z.object({ type: z.literal("off") }).strict().describe("No per-record quality score (result.faithfulness is null)"),
  z
    .object({
      type: z.literal("deletion"),
      budget: z.number().int().min(4).default(8).describe("Sequences spent per record: 2 for the top features, the rest on random draws of the same size"),
      top_fraction: z
        .number()
        .gt(0)
        .max(1)
        .default(0.1)
        .describe("Share of the record's features (tokens or units) taken as its top features; at least one"),
      seed_check: z.boolean().default(false).describe("Also attribute the record with seed + 1 and report the top-3 overlap of the two (doubles the cost)"),
    })
    .strict()
    .describe("Deletion faithfulness against random features of the same size (ln-ratios) and, optionally, seed stability"),
]);
export const faithfulnessSchema = withTypeShorthand(faithfulnessSettingsSchema).describe("Per-record quality score: off | deletion, or an object with `type` and its knobs");

export type FaithfulnessSettings = z.infer<typeof faithfulnessSettingsSchema>;
