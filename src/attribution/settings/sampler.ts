/**
 * `engine.sampler`: the replacement sampler, i.e. where the tokens that stand in for "removed"
 * context come from (not to be confused with `sampling`, which picks the records to attribute).
 */
import { z } from "zod";
import { withTypeShorthand } from "./shorthand.js";

export const samplerIds = ["uniform", "pos", "mlm", "self"] as const;
export type SamplerId = (typeof samplerIds)[number];

export const samplerDescriptions: Record<SamplerId, string> = {
  uniform: "a uniformly random vocabulary token (never a special token)",
  pos: "a random token with the same part-of-speech tag, as in the released ReAGent code (POS table built per tokenizer, cached on disk)",
  mlm: "a masked LM's prediction for the masked token, mapped back into the target vocabulary, as the ReAGent paper describes (RoBERTa-style)",
  self: "one of the target model's own top-k predictions for that position, from the unperturbed pass",
};

export const samplerSettingsSchema = z.discriminatedUnion("type", [
  z.object({ type: z.literal("pos") }).strict().describe(samplerDescriptions.pos),
  z.object({ type: z.literal("uniform") }).strict().describe(samplerDescriptions.uniform),
  z
    .object({ type: z.literal("mlm"), top_k: z.number().int().min(1).default(5).describe("mlm: draw among the masked LM's top-k predictions (1 = argmax); self: among the target model's top-k") })
    .strict()
    .describe(samplerDescriptions.mlm),
  z
    .object({ type: z.literal("self"), top_k: z.number().int().min(1).default(5).describe("self: draw among the target model's top-k predictions; mlm: among the masked LM's top-k (1 = argmax)") })
    .strict()
    .describe(samplerDescriptions.self),
]);
export const samplerSchema = withTypeShorthand(samplerSettingsSchema).describe("Replacement sampler: pos | uniform | mlm | self, or an object with `type` and its knobs");

export type SamplerSettings = z.infer<typeof samplerSettingsSchema>;
