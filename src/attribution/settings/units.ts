/**
 * `engine.units`: what a feature is. `token` attributes every prompt token on its own (the
 * published setting). Larger units (sentences, paragraphs, chat messages, configured segments
 * such as retrieved documents) are replaced as wholes, so a 2,000-token prompt of 10 documents
 * has 10 features instead of 2,000; with `refine_top` > 0, ReAGent then attributes the tokens
 * inside the top units only (segment-first attribution, docs/attribution.md).
 */
import { z } from "zod";
import type { UnitLevel } from "../../../schemas/attribution-result.js";
import { withTypeShorthand } from "./shorthand.js";

export { unitLevels, type UnitLevel } from "../../../schemas/attribution-result.js";

const refineTop = z
  .number()
  .int()
  .min(0)
  .optional()
  .describe("ReAGent only: refine the top this-many units to tokens with a second, token-level run inside them (0 = shares spread evenly over each unit's tokens). Default 1 for reagent, 0 otherwise");

/** Default step budget of the token refinement: with the unit level's 4 probes, about 80 sequences. */
export const REFINE_MAX_STEPS = 20;

const refineMaxSteps = z
  .number()
  .int()
  .min(0)
  .default(REFINE_MAX_STEPS)
  .describe(
    "Segment-first: step budget of the token refinement inside the top units (each step costs one sequence per probe); a refinement that has not converged by then keeps its evidence so far and says so in a warning, while the record's convergence is the unit ranking's. 0 = no budget (method.max_steps and the stopping rule's patience apply)",
  );

const unitOf = <L extends Exclude<UnitLevel, "token">>(level: L, doc: string) =>
  z.object({ type: z.literal(level), refine_top: refineTop, refine_max_steps: refineMaxSteps }).strict().describe(doc);

export const unitsSettingsSchema = z.discriminatedUnion("type", [
  z.object({ type: z.literal("token") }).strict().describe("Every replaceable prompt and earlier completion token is a feature (as published)"),
  unitOf("sentence", "Sentences of the prompt (split after . ! ? and at line breaks; never across a message or segment)"),
  unitOf("paragraph", "Paragraphs (split at blank lines; never across a message or segment)"),
  unitOf("message", "Chat messages (plain-text prompts: the whole prompt is one unit)"),
  unitOf("segment", "Configured segments (each match, e.g. a retrieved document, is a unit); the text between them forms units too"),
]);
export const unitsSchema = withTypeShorthand(unitsSettingsSchema).describe("Attribution units: token | sentence | paragraph | message | segment, or an object with `type`, `refine_top` and `refine_max_steps`");

export type UnitsInput = z.infer<typeof unitsSettingsSchema>;
/** Resolved: refine_top is explicit. */
export type UnitsSettings = { type: "token" } | { type: Exclude<UnitLevel, "token">; refine_top: number; refine_max_steps: number };
