/**
 * The real-model evaluation set's candidate items: three families at a target prompt length,
 * built deterministically from a seed. Every item knows its causal span (character range of the
 * fact the answer is copied or recalled from) and its unit (the document or paragraph holding
 * it), so token-level and unit-level methods can both be scored.
 *
 * - needle: one fact ("The password for the archive room is lantern.") inside one of several
 *   filler documents; the cue repeats the key and asks for the value.
 * - capital: LongRA-style (after the ReAGent paper): a country is named in the first paragraph,
 *   distractor paragraphs follow, the cue asks for the capital ("… which is called" → " Athens").
 * - multidoc: several short profiles of different people (same shape, other values); exactly one
 *   document is about the person the question names.
 *
 * Prompts are plain text ending on an answer cue, so the first completion token is the answer.
 */
import { z } from "zod";
import { createRng, type Rng } from "../../src/attribution/rng.js";
import { fillerSentences } from "./filler.js";

export const FAMILIES = ["needle", "capital", "multidoc"] as const;
export type Family = (typeof FAMILIES)[number];

const spanSchema = z.object({ start: z.number().int().nonnegative(), end: z.number().int().positive(), text: z.string() });

export const evalItemSchema = z.object({
  id: z.string(),
  family: z.enum(FAMILIES),
  target_tokens: z.number().int().positive(),
  prompt_tokens: z.number().int().positive(),
  prompt: z.string(),
  /** Gold continuation, starting with a space. */
  completion: z.string(),
  /** Most causal first: the value (needle, multidoc) or the country (capital); then the key where there is one. */
  causal: z.array(spanSchema).min(1),
  /** Units (documents or paragraphs) in text order; `causal_unit` indexes the one holding causal[0]. */
  units: z.array(z.object({ start: z.number().int().nonnegative(), end: z.number().int().positive() })).min(1),
  causal_unit: z.number().int().nonnegative(),
  /** The sentence holding causal[0]. */
  causal_sentence: spanSchema,
  /** Filled in by make-eval.ts: the model's greedy first token, and whether it equals the gold first token. */
  answered: z.boolean().optional(),
  greedy_first_token: z.string().optional(),
  /** The scorer id (model file hash) that `answered` was measured with. */
  model: z.string().optional(),
});

export type EvalItem = z.infer<typeof evalItemSchema>;

const ROOMS = ["archive room", "north gate", "blue locker", "garden shed", "supply cabinet", "rooftop door", "music studio", "server room", "boat house", "tool store", "east wing", "photo lab"];
const WORDS = ["lantern", "marigold", "copper", "falcon", "meadow", "velvet", "harbor", "orchid", "thunder", "maple", "crystal", "saffron", "pebble", "willow", "ember", "juniper", "cobalt", "sparrow", "tulip", "granite", "walnut", "coral", "raven", "cedar"];
const COUNTRIES: readonly (readonly [string, string])[] = [
  ["France", "Paris"], ["Japan", "Tokyo"], ["Italy", "Rome"], ["Germany", "Berlin"], ["Spain", "Madrid"], ["Russia", "Moscow"],
  ["China", "Beijing"], ["Egypt", "Cairo"], ["Greece", "Athens"], ["England", "London"], ["Austria", "Vienna"], ["Portugal", "Lisbon"],
  ["Ireland", "Dublin"], ["Norway", "Oslo"], ["Sweden", "Stockholm"], ["Poland", "Warsaw"], ["Hungary", "Budapest"], ["Thailand", "Bangkok"],
  ["Kenya", "Nairobi"], ["Peru", "Lima"], ["Cuba", "Havana"], ["Denmark", "Copenhagen"], ["Finland", "Helsinki"], ["Turkey", "Ankara"],
];
const TRIP_INTROS = [
  "When my flight landed in {C}, I converted my currency and slowly fell asleep.",
  "Last spring I finally took the long trip to {C} that I had been planning for years.",
  "My sister moved to {C} for work, so I flew over to visit her in the autumn.",
  "The conference this year was held in {C}, and I stayed on for a few extra days.",
];
const TRIP_CUES = [
  "Anyway, during that trip I was staying in the capital of that country, the city of",
  "Looking back, my favourite part of the trip was the week I spent in its capital city, which is called",
];
const PEOPLE = ["Maria Lopez", "Tom Baker", "Aisha Khan", "Lucas Meyer", "Nora Olsen", "Ravi Patel", "Emma Clarke", "Jonas Berg", "Sofia Rossi", "Daniel Kim", "Hannah Weber", "Omar Haddad"];
const COLOURS = ["teal", "amber", "violet", "crimson", "olive", "silver", "indigo", "scarlet", "beige", "turquoise"];

function pick<T>(rng: Rng, xs: readonly T[]): T {
  return xs[rng.int(xs.length)] as T;
}

function shuffled<T>(rng: Rng, xs: readonly T[]): T[] {
  const a = [...xs];
  for (let i = a.length - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    [a[i], a[j]] = [a[j] as T, a[i] as T];
  }
  return a;
}

/** Text assembled piece by piece, remembering where marked pieces land. */
class Builder {
  text = "";
  add(s: string): { start: number; end: number } {
    const start = this.text.length;
    this.text += s;
    return { start, end: this.text.length };
  }
}

/** A candidate prompt with `fill` filler sentences spread over its documents/paragraphs. */
type Draft = Omit<EvalItem, "id" | "target_tokens" | "prompt_tokens" | "answered" | "greedy_first_token" | "model">;

function span(text: string, r: { start: number; end: number }): { start: number; end: number; text: string } {
  return { ...r, text: text.slice(r.start, r.end) };
}

function needle(rng: Rng, fill: number): Draft {
  const room = pick(rng, ROOMS);
  const word = pick(rng, WORDS);
  const nDocs = Math.max(2, Math.min(8, 2 + Math.floor(fill / 6)));
  const where = rng.int(nDocs);
  const filler = fillerSentences(rng.fork("filler"), fill);
  const per = Math.ceil(filler.length / nDocs);
  const b = new Builder();
  const units: { start: number; end: number }[] = [];
  let value = { start: 0, end: 0 };
  let key = { start: 0, end: 0 };
  let sentence = { start: 0, end: 0 };
  for (let d = 0; d < nDocs; d++) {
    b.add(`Document ${d + 1}:\n`);
    const u0 = b.text.length;
    const sents = filler.slice(d * per, (d + 1) * per);
    const at = d === where ? rng.int(sents.length + 1) : -1;
    for (let i = 0; i <= sents.length; i++) {
      if (i === at) {
        const s0 = b.text.length;
        b.add("The password for the ");
        key = b.add(room);
        b.add(" is ");
        value = b.add(word);
        b.add(". ");
        sentence = { start: s0, end: b.text.length - 1 };
      }
      if (i < sents.length) b.add(`${sents[i]} `);
    }
    b.text = b.text.trimEnd();
    units.push({ start: u0, end: b.text.length });
    b.add("\n\n");
  }
  b.add(`Question: What is the password for the ${room}?\nAnswer: The password for the ${room} is`);
  return { family: "needle", prompt: b.text, completion: ` ${word}`, causal: [span(b.text, value), span(b.text, key)], units, causal_unit: where, causal_sentence: span(b.text, sentence) };
}

function capital(rng: Rng, fill: number): Draft {
  const [country, city] = pick(rng, COUNTRIES);
  const intro = pick(rng, TRIP_INTROS);
  const filler = fillerSentences(rng.fork("filler"), fill);
  const nParas = Math.max(1, Math.min(8, Math.floor(fill / 5)));
  const per = Math.ceil(filler.length / nParas);
  const b = new Builder();
  const units: { start: number; end: number }[] = [];
  const [pre, post] = intro.split("{C}") as [string, string];
  const u0 = b.add(pre).start;
  const c = b.add(country);
  b.add(post);
  const sentence = { start: u0, end: b.text.length };
  units.push({ start: u0, end: b.text.length });
  for (let p = 0; p < nParas && p * per < filler.length; p++) {
    b.add("\n\n");
    const r0 = b.text.length;
    b.add(filler.slice(p * per, (p + 1) * per).join(" "));
    units.push({ start: r0, end: b.text.length });
  }
  b.add(`\n\n${pick(rng, TRIP_CUES)}`);
  return { family: "capital", prompt: b.text, completion: ` ${city}`, causal: [span(b.text, c)], units, causal_unit: 0, causal_sentence: span(b.text, sentence) };
}

function multidoc(rng: Rng, fill: number): Draft {
  const nDocs = Math.max(2, Math.min(8, 2 + Math.floor(fill / 8)));
  const people = shuffled(rng, PEOPLE).slice(0, nDocs);
  const colours = shuffled(rng, COLOURS);
  const where = rng.int(nDocs);
  const filler = fillerSentences(rng.fork("filler"), fill);
  const per = Math.ceil(filler.length / nDocs);
  const b = new Builder();
  const units: { start: number; end: number }[] = [];
  let value = { start: 0, end: 0 };
  let key = { start: 0, end: 0 };
  let sentence = { start: 0, end: 0 };
  for (let d = 0; d < nDocs; d++) {
    b.add(`Document ${d + 1}:\n`);
    const u0 = b.text.length;
    const who = people[d] as string;
    const colour = colours[d % colours.length] as string;
    const k = b.add(who);
    b.add(" joined the club last year. ");
    const s0 = b.text.length;
    b.add(`The favourite colour of ${who} is `);
    const v = b.add(colour);
    b.add(".");
    if (d === where) {
      value = v;
      key = k;
      sentence = { start: s0, end: b.text.length };
    }
    for (const s of filler.slice(d * per, (d + 1) * per)) b.add(` ${s}`);
    units.push({ start: u0, end: b.text.length });
    b.add("\n\n");
  }
  const who = people[where] as string;
  b.add(`Question: What is the favourite colour of ${who}?\nAnswer: The favourite colour of ${who} is`);
  return { family: "multidoc", prompt: b.text, completion: ` ${value.end > value.start ? b.text.slice(value.start, value.end) : ""}`, causal: [span(b.text, value), span(b.text, key)], units, causal_unit: where, causal_sentence: span(b.text, sentence) };
}

const BUILDERS: Record<Family, (rng: Rng, fill: number) => Draft> = { needle, capital, multidoc };

/**
 * Candidate `index` of a family at about `targetTokens` prompt tokens: the filler is grown until
 * the prompt reaches the target (measured with the model's tokenizer).
 */
export function makeItem(family: Family, targetTokens: number, index: number, seed: number, countTokens: (text: string) => number): EvalItem {
  let fill = 0;
  let draft = BUILDERS[family](createRng(seed, `${family}/${targetTokens}/${index}`), fill);
  // Coarse then fine: add filler sentences (~14 tokens each) while the prompt is short of the target.
  for (let n = countTokens(draft.prompt); n < targetTokens; n = countTokens(draft.prompt)) {
    fill += Math.max(1, Math.floor((targetTokens - n) / 16));
    const next = BUILDERS[family](createRng(seed, `${family}/${targetTokens}/${index}`), fill);
    if (countTokens(next.prompt) > targetTokens * 1.1 && n >= targetTokens * 0.85) break;
    draft = next;
  }
  return { id: `${family}-${targetTokens}-${index}`, target_tokens: targetTokens, prompt_tokens: countTokens(draft.prompt), ...draft };
}
