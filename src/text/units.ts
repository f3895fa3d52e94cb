/**
 * Attribution units as character ranges of a rendered prompt: sentences, paragraphs, chat
 * messages, configured segments. Units never cross a message or a segment boundary, so a
 * sentence that ends a retrieved document never merges with the question after it. The
 * engine maps tokens to units by their first non-space character.
 */
import type { SegmentRange } from "./segments.js";

export type TextUnitLevel = "sentence" | "paragraph" | "message" | "segment";

/** Where a sentence ends: after . ! ? (and closing quotes/brackets) and the whitespace after them, or after line breaks. */
const SENTENCE_END = /[.!?]+["'”’)\]]*\s+|\n+/g;
/** Paragraphs are separated by blank lines. */
const PARAGRAPH_END = /\n[ \t]*\n/g;

/**
 * Cut points of `text` for units of `level`: every message and segment edge, plus sentence or
 * paragraph ends. Consecutive cut points bound one unit; the engine drops units without a
 * replaceable token.
 */
export function unitBoundaries(text: string, level: TextUnitLevel, rules: readonly SegmentRange[], messages: readonly SegmentRange[]): number[] {
  const cuts = new Set<number>([0, text.length]);
  for (const m of messages) {
    cuts.add(m.start);
    cuts.add(m.end);
  }
  if (level !== "message") {
    for (const r of rules) {
      cuts.add(r.start);
      cuts.add(r.end);
    }
  }
  const re = level === "sentence" ? SENTENCE_END : level === "paragraph" ? PARAGRAPH_END : undefined;
  if (re) for (const m of text.matchAll(re)) cuts.add(m.index + m[0].length);
  return [...cuts].filter((c) => c >= 0 && c <= text.length).sort((a, b) => a - b);
}

/** Index of the unit (between consecutive `cuts`) holding character `at`. */
export function unitIndexAt(cuts: readonly number[], at: number): number {
  let lo = 0;
  let hi = cuts.length - 2;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if ((cuts[mid] as number) <= at) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}
