/**
 * Word boundaries for display: a span cut at token boundaries ("ked around the capital",
 * "Griec") is widened to the whole words it touches, so people read words, not sub-word
 * pieces. Offsets are UTF-16 units into the same text.
 */

const WORD = /[\p{L}\p{N}_'’-]/u;

function isWordChar(text: string, i: number): boolean {
  const c = text[i];
  return c !== undefined && WORD.test(c);
}

/** [start, end) widened to whole words at both ends (unchanged when already on boundaries). */
export function wordAlign(text: string, start: number, end: number): { start: number; end: number } {
  let s = Math.max(0, Math.min(start, text.length));
  let e = Math.max(s, Math.min(end, text.length));
  while (s > 0 && isWordChar(text, s - 1) && isWordChar(text, s)) s--;
  while (e < text.length && e > 0 && isWordChar(text, e - 1) && isWordChar(text, e)) e++;
  return { start: s, end: e };
}

/** The word-aligned slice of `text` covering [start, end). */
export function wordAlignedText(text: string, start: number, end: number): string {
  const a = wordAlign(text, start, end);
  return text.slice(a.start, a.end);
}
