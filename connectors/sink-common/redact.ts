/**
 * `store_text: redacted`: what is masked before prompt and completion text reaches a store.
 *
 * Masking keeps the length (every UTF-16 code unit of a match becomes `*`), so the character
 * offsets of tokens and spans stay valid against the stored text and a span's stored text is
 * exactly the slice of the stored prompt. The rules are deliberately few and documented in
 * docs/sinks.md ("Text storage"); each match is also reported by kind so that audits can find
 * spans that touched sensitive text even when the text itself is masked (`attribution_spans.pii`).
 */

export const redactionKinds = ["email", "secret", "number"] as const;
export type RedactionKind = (typeof redactionKinds)[number];

export interface RedactionRule {
  readonly kind: RedactionKind;
  /** What the rule is for, as written in docs/sinks.md. */
  readonly description: string;
  readonly pattern: RegExp;
}

/**
 * Order matters only for reporting: overlapping matches are merged into one masked range that
 * carries every kind that matched.
 */
export const REDACTION_RULES: readonly RedactionRule[] = [
  {
    kind: "email",
    description: "e-mail addresses: local@domain.tld",
    pattern: /[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}/g,
  },
  {
    kind: "secret",
    description:
      "credentials: provider key prefixes (sk-…, sk_live_…, pk_live_…, AKIA…, ghp_/gho_/ghs_…, xox[abprs]-…, AIza…), JWTs (eyJ….eyJ….…), `Bearer <token>`, and the value after api_key/apikey/secret/token/password/passwd followed by : or =",
    pattern: new RegExp(
      [
        String.raw`\b(?:sk|pk|rk)[-_](?:live_|test_|proj-)?[A-Za-z0-9_-]{16,}`,
        String.raw`\bAKIA[0-9A-Z]{16}\b`,
        String.raw`\bgh[pousr]_[A-Za-z0-9]{20,}`,
        String.raw`\bxox[abprs]-[A-Za-z0-9-]{10,}`,
        String.raw`\bAIza[0-9A-Za-z_-]{35}`,
        String.raw`\beyJ[A-Za-z0-9_-]{5,}\.eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}`,
        String.raw`\bBearer\s+[A-Za-z0-9._~+/=-]{8,}`,
        String.raw`(?<=\b(?:api[_-]?key|apikey|secret|token|password|passwd)\s*[:=]\s*["']?)[^\s"',;]{4,}`,
      ].join("|"),
      "gi",
    ),
  },
  {
    kind: "number",
    description:
      "numbers of 4 or more digits, which may be split by single spaces, dots, dashes or slashes (phone, card, account and ID numbers, dates); shorter numbers are kept",
    pattern: /(?<![\p{L}\p{N}])\d(?:[ ./-]?\d){3,}(?![\p{L}\p{N}])/gu,
  },
];

export const MASK_CHAR = "*";

export interface SensitiveRange {
  readonly start: number;
  readonly end: number;
  readonly kinds: readonly RedactionKind[];
}

/** Ranges of `text` that the rules match, sorted and merged where they overlap. */
export function findSensitive(text: string, rules: readonly RedactionRule[] = REDACTION_RULES): SensitiveRange[] {
  const raw: { start: number; end: number; kind: RedactionKind }[] = [];
  for (const rule of rules) {
    rule.pattern.lastIndex = 0;
    for (const m of text.matchAll(rule.pattern)) {
      if (m[0].length === 0) continue;
      raw.push({ start: m.index, end: m.index + m[0].length, kind: rule.kind });
    }
  }
  raw.sort((a, b) => a.start - b.start || b.end - a.end);
  const merged: { start: number; end: number; kinds: Set<RedactionKind> }[] = [];
  for (const r of raw) {
    const last = merged[merged.length - 1];
    if (last !== undefined && r.start < last.end) {
      last.end = Math.max(last.end, r.end);
      last.kinds.add(r.kind);
    } else {
      merged.push({ start: r.start, end: r.end, kinds: new Set([r.kind]) });
    }
  }
  return merged.map((m) => ({ start: m.start, end: m.end, kinds: redactionKinds.filter((k) => m.kinds.has(k)) }));
}

/** `text` with every code unit inside `ranges` replaced by `*` (same length). */
export function maskRanges(text: string, ranges: readonly SensitiveRange[], offset = 0): string {
  if (ranges.length === 0) return text;
  let out = "";
  let pos = 0;
  for (const r of ranges) {
    const s = Math.max(0, r.start - offset);
    const e = Math.min(text.length, r.end - offset);
    if (e <= s || s >= text.length) continue;
    if (s > pos) out += text.slice(pos, s);
    out += MASK_CHAR.repeat(e - Math.max(s, pos));
    pos = Math.max(pos, e);
  }
  return out + text.slice(pos);
}

/** The text with every sensitive match masked. */
export function redactText(text: string): string {
  return maskRanges(text, findSensitive(text));
}

/** Whether any sensitive range overlaps [start, end) (no allocation: called per token). */
export function overlapsAny(ranges: readonly SensitiveRange[], start: number, end: number): boolean {
  for (const r of ranges) if (r.start < end && r.end > start) return true;
  return false;
}

/** Kinds of sensitive ranges that overlap [start, end). */
export function kindsIn(ranges: readonly SensitiveRange[], start: number, end: number): RedactionKind[] {
  if (!overlapsAny(ranges, start, end)) return [];
  const kinds = new Set<RedactionKind>();
  for (const r of ranges) {
    if (r.start < end && r.end > start) for (const k of r.kinds) kinds.add(k);
  }
  return redactionKinds.filter((k) => kinds.has(k));
}
