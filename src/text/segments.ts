/**
 * Segments: named character ranges of a prompt (a retrieved document between markers, a tool
 * output, the system prompt) that importance is summed over. Users configure them as marker
 * pairs or regular expressions; message roles are segments too.
 */
import { z } from "zod";
import { ConfigError } from "../errors.js";
import type { MessageRange } from "./chat-template.js";

export const segmentRuleSchema = z.union([
  z
    .object({
      name: z.string().min(1).describe("Segment name reported in results, e.g. retrieved_context"),
      start: z.string().min(1).describe("Literal marker that opens the segment, e.g. <doc>"),
      end: z.string().min(1).describe("Literal marker that closes it, e.g. </doc>"),
      include_markers: z.boolean().default(false).describe("Count the marker text as part of the segment"),
    })
    .strict(),
  z
    .object({
      name: z.string().min(1),
      pattern: z.string().min(1).describe("JavaScript regular expression; each match is one instance of the segment"),
      flags: z.string().regex(/^[imsu]*$/).default(""),
    })
    .strict(),
]);

export type SegmentRule = z.infer<typeof segmentRuleSchema>;

export interface SegmentRange {
  readonly name: string;
  /** `rule`: from a configured rule; `role`: a chat message's content; `prompt`: plain text prompt. */
  readonly kind: "rule" | "role" | "prompt";
  readonly start: number;
  readonly end: number;
  readonly messageIndex?: number;
}

/** Ranges matched by configured rules, in text order (later rules never override earlier matches). */
export function findRuleSegments(text: string, rules: readonly SegmentRule[]): SegmentRange[] {
  const out: SegmentRange[] = [];
  for (const rule of rules) {
    if ("pattern" in rule) {
      let re: RegExp;
      try {
        re = new RegExp(rule.pattern, rule.flags.includes("g") ? rule.flags : `${rule.flags}g`);
      } catch (err) {
        throw new ConfigError({ what: `compiling segment pattern for ${rule.name}`, why: "it is not a valid regular expression", path: "segments", cause: err });
      }
      for (const m of text.matchAll(re)) {
        if (m[0].length === 0) continue;
        out.push({ name: rule.name, kind: "rule", start: m.index, end: m.index + m[0].length });
      }
      continue;
    }
    let from = 0;
    for (;;) {
      const s = text.indexOf(rule.start, from);
      if (s < 0) break;
      const e = text.indexOf(rule.end, s + rule.start.length);
      if (e < 0) break;
      out.push(
        rule.include_markers
          ? { name: rule.name, kind: "rule", start: s, end: e + rule.end.length }
          : { name: rule.name, kind: "rule", start: s + rule.start.length, end: e },
      );
      from = e + rule.end.length;
    }
  }
  return out.sort((a, b) => a.start - b.start || a.end - b.end);
}

/** Role segments from rendered chat messages. */
export function roleSegments(messages: readonly MessageRange[]): SegmentRange[] {
  return messages.map((m) => ({ name: m.role, kind: "role" as const, start: m.start, end: m.end, messageIndex: m.index }));
}

/**
 * The segment a character range belongs to: the innermost configured rule match containing
 * its midpoint, else the message it sits in, else `fallback`.
 */
export function segmentAt(
  start: number,
  end: number,
  rules: readonly SegmentRange[],
  messages: readonly SegmentRange[],
): { name: string; messageIndex?: number; role?: string } | undefined {
  const mid = end > start ? (start + end - 1) / 2 : start;
  let best: SegmentRange | undefined;
  for (const r of rules) if (r.start <= mid && mid < r.end && (!best || r.end - r.start < best.end - best.start)) best = r;
  const msg = messages.find((m) => m.start <= mid && mid < m.end);
  if (best) return { name: best.name, ...(msg ? { messageIndex: msg.messageIndex, role: msg.name } : {}) };
  if (msg) return { name: msg.name, messageIndex: msg.messageIndex, role: msg.name };
  return undefined;
}
