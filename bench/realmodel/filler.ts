/** Seeded, neutral English filler (no places, people or numbers), for padding prompts to a length. */
import { createRng, type Rng } from "../../src/attribution/rng.js";

const SENTENCES = [
  "The committee met early in the morning to review the agenda for the week.",
  "Several volunteers arranged the chairs and checked that the projector worked.",
  "A light rain fell over the garden while the kettle slowly came to a boil.",
  "The report described how the new process reduced waiting times for most visitors.",
  "Nobody expected the meeting to run long, but the questions kept coming.",
  "The library extended its opening hours during the examination period.",
  "Fresh bread was delivered to the kitchen just before lunch was served.",
  "The team agreed to revisit the proposal once the budget had been approved.",
  "A short walk along the river helped everyone clear their heads after the workshop.",
  "The manual explains each step of the installation in plain language.",
  "Most of the afternoon was spent sorting old letters into labelled boxes.",
  "The orchestra rehearsed the final movement until the tempo felt right.",
  "Careful notes were kept so that the experiment could be repeated later.",
  "The bakery on the corner closes early on quiet winter evenings.",
  "Students compared their answers and discussed where their reasoning differed.",
  "The old bridge was repainted in a colour that matched the surrounding hills.",
  "A new schedule for the shuttle bus was posted near the main entrance.",
  "The gardener planted tulips along the path leading to the greenhouse.",
  "Everyone was asked to switch off their phones before the lecture began.",
  "The museum added a quiet room where visitors could rest between exhibits.",
];

/** About `words` words of filler, deterministic in `seed`. */
export function fillerText(seed: number, words: number): string {
  const rng = createRng(seed, "filler");
  const out: string[] = [];
  let n = 0;
  while (n < words) {
    const s = SENTENCES[Math.floor(rng.next() * SENTENCES.length)] as string;
    out.push(s);
    n += s.split(" ").length;
  }
  return out.join(" ");
}

/** `n` filler sentences drawn from `rng`, never the same sentence twice in a row. */
export function fillerSentences(rng: Rng, n: number): string[] {
  const out: string[] = [];
  let last = -1;
  while (out.length < n) {
    const i = rng.int(SENTENCES.length);
    if (i === last) continue;
    out.push(SENTENCES[i] as string);
    last = i;
  }
  return out;
}
