/**
 * Terminal rendering of a result: the prompt as a heatmap on the ABSOLUTE colour scale of the
 * HTML report (src/report/scale.ts; a token's colour is its share of the prompt's importance,
 * so a flat result looks pale), with a legend, a visible "not converged" line, the top spans in
 * whole words, segment shares that add up to 100% (messages nested under their role), and a
 * one-line cost summary. Colour only on a TTY without NO_COLOR; otherwise tokens with at least
 * MARK_SHARE of the importance are marked ⟦like this⟧ (brackets that prompts rarely contain).
 */
import type { AttributionResult } from "../../schemas/attribution-result.js";
import { SCALE_XTERM, scaleLabels, scaleLevel } from "../report/scale.js";
import { wordAlign, wordAlignedText } from "../text/words.js";

export interface RenderOptions {
  readonly color: boolean;
}

export function shouldColor(stream: NodeJS.WriteStream): boolean {
  return Boolean(stream.isTTY) && process.env.NO_COLOR === undefined && process.env.TERM !== "dumb";
}

/** Without colour, tokens with at least this share of the prompt's importance are marked. */
export const MARK_SHARE = 0.05;
export const MARK_OPEN = "⟦";
export const MARK_CLOSE = "⟧";

const RESET = "\x1b[0m";

function heat(share: number): string {
  const level = scaleLevel(share);
  return `\x1b[48;5;${SCALE_XTERM[level] as number}m\x1b[38;5;${level >= 5 ? 231 : 16}m`;
}

/** Marks ⟦…⟧ around whole words holding a token with at least MARK_SHARE (adjacent ones merged). */
function markedText(r: AttributionResult): string {
  const text = r.prompt.text;
  const ranges: { start: number; end: number }[] = [];
  r.prompt.tokens.forEach((t, i) => {
    if (t.protected || t.end <= t.start || (r.sequence.importance[i] ?? 0) < MARK_SHARE) return;
    let s = t.start;
    while (s < t.end && /\s/.test(text[s] as string)) s++;
    if (s < t.end) ranges.push(wordAlign(text, s, t.end));
  });
  ranges.sort((a, b) => a.start - b.start);
  const merged: { start: number; end: number }[] = [];
  for (const g of ranges) {
    const last = merged[merged.length - 1];
    if (last !== undefined && (g.start <= last.end || /^\s+$/.test(text.slice(last.end, g.start)))) last.end = Math.max(last.end, g.end);
    else merged.push({ ...g });
  }
  let out = "";
  let cursor = 0;
  for (const g of merged) {
    out += `${text.slice(cursor, g.start)}${MARK_OPEN}${text.slice(g.start, g.end)}${MARK_CLOSE}`;
    cursor = g.end;
  }
  return out + text.slice(cursor);
}

export function renderHeatmap(r: AttributionResult, opts: RenderOptions): string {
  if (!opts.color) return markedText(r);
  const scores = r.sequence.importance;
  const text = r.prompt.text;
  let out = "";
  let cursor = 0;
  r.prompt.tokens.forEach((t, i) => {
    if (t.end <= t.start || t.start < cursor) return;
    const piece = text.slice(t.start, t.end);
    out += text.slice(cursor, t.start) + (t.protected ? piece : `${heat(scores[i] ?? 0)}${piece}${RESET}`);
    cursor = t.end;
  });
  return out + text.slice(cursor);
}

/** The legend line under the heatmap. */
export function renderLegend(opts: RenderOptions): string {
  if (!opts.color) return `${MARK_OPEN}…${MARK_CLOSE} marks tokens with ≥${Math.round(MARK_SHARE * 100)}% of the prompt's importance`;
  const labels = scaleLabels();
  const sw = labels.map((l, i) => `\x1b[48;5;${SCALE_XTERM[i] as number}m\x1b[38;5;${i >= 5 ? 231 : 16}m ${l} ${RESET}`).join("");
  return `share of the prompt's importance: ${sw}`;
}

/** The "not converged" line, or undefined when every target converged. */
export function convergenceWarning(r: AttributionResult): string | undefined {
  const c = r.convergence;
  if (c.converged) return undefined;
  return `NOT CONVERGED: ${c.targets_total - c.targets_converged} of ${c.targets_total} completion tokens never had a converged probe; their importance is the mean over all probes — treat this as a rough estimate`;
}

/** Segment shares that add up to 100% (roles, rules, the rest), each role's messages nested under it. */
export function renderShares(r: AttributionResult): string[] {
  const additive = r.segments.filter((s) => s.kind !== "message" && s.share > 0.0005).sort((a, b) => b.share - a.share);
  if (!(additive.length > 1 || additive.some((s) => s.kind !== "prompt"))) return [];
  const messages = r.segments.filter((s) => s.kind === "message");
  const lines: string[] = [];
  for (const s of additive) {
    lines.push(`  ${s.name.padEnd(22)} ${(s.share * 100).toFixed(1).padStart(5)}%  (${s.kind})`);
    if (s.kind !== "role") continue;
    const own = messages.filter((m) => m.name.startsWith(`${s.name}#`));
    if (own.length > 1) for (const m of own) lines.push(`    of which ${m.name.padEnd(13)} ${(m.share * 100).toFixed(1).padStart(5)}%`);
  }
  lines.push("  (these add up to 100%; a message's share is part of its role's)");
  return lines;
}

export function renderResult(r: AttributionResult, opts: RenderOptions): string {
  const lines: string[] = [];
  const bold = (s: string): string => (opts.color ? `\x1b[1m${s}${RESET}` : s);
  const warn = convergenceWarning(r);
  if (warn !== undefined) lines.push(opts.color ? `\x1b[1;31m${warn}${RESET}` : warn, "");
  lines.push(bold("Prompt (darker = more important):"));
  lines.push(renderHeatmap(r, opts));
  lines.push(renderLegend(opts));
  lines.push("");
  lines.push(`${bold("Completion:")} ${JSON.stringify(r.completion.text)}`);
  lines.push("");
  lines.push(bold("Top spans:"));
  for (const s of r.spans) {
    const where = s.segment && s.segment !== "prompt" ? ` [${s.segment}]` : "";
    lines.push(`  ${String(s.rank).padStart(2)}. ${(s.score * 100).toFixed(1).padStart(5)}%  ${JSON.stringify(wordAlignedText(r.prompt.text, s.start, s.end))}  (chars ${s.start}-${s.end})${where}`);
  }
  const shares = renderShares(r);
  if (shares.length > 0) lines.push("", bold("Share by segment:"), ...shares);
  const units = renderUnits(r);
  if (units.length > 0) lines.push("", bold(`Top ${r.unit_level}s:`), ...units);
  lines.push("");
  const c = r.convergence;
  lines.push(
    `${r.method}${r.mode ? `/${r.mode}` : ""} · sampler ${r.sampler} · ${c.targets_converged}/${c.targets_total} targets converged ` +
      `(${c.probes_converged}/${c.probes_total} probes, ≤${c.steps_max} steps) · ${r.cost.model_calls} model calls, ` +
      `${r.cost.sequences_evaluated} sequences · ${(r.timings.duration_ms / 1000).toFixed(2)} s · seed ${JSON.stringify(r.config.seed)}`,
  );
  const quality = renderQuality(r);
  if (quality !== undefined) lines.push(quality);
  for (const w of r.warnings.slice(0, 3)) lines.push(`warning: ${w}`);
  if (r.warnings.length > 3) lines.push(`warning: … and ${r.warnings.length - 3} more`);
  return lines.join("\n");
}

/** A one-line progress indicator on stderr (TTY only); returns a function that clears it. */
export function progressLine(stream: NodeJS.WriteStream): { update(msg: string): void; done(): void } {
  if (!stream.isTTY) return { update: () => undefined, done: () => undefined };
  const frames = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"];
  let i = 0;
  let last = 0;
  return {
    update(msg: string) {
      const now = Date.now();
      if (now - last < 80) return;
      last = now;
      stream.write(`\r\x1b[2K${frames[i++ % frames.length] as string} ${msg}`);
    },
    done() {
      stream.write("\r\x1b[2K");
    },
  };
}

/** Unit level (segment-first): the top units by share, with the ones refined to tokens marked. */
export function renderUnits(r: AttributionResult, top = 5): string[] {
  if (r.unit_level === "token" || r.units.length === 0) return [];
  const ranked = [...r.units].sort((a, b) => b.score - a.score).slice(0, top);
  return ranked.map(
    (u, i) =>
      `  ${String(i + 1).padStart(2)}. ${(u.score * 100).toFixed(1).padStart(5)}%  ${JSON.stringify(truncate(r.prompt.text.slice(u.start, u.end), 60))}  (chars ${u.start}-${u.end})${u.refined ? "  refined to tokens" : ""}`,
  );
}

/** The stopping rule when not the token-level default, and the per-record faithfulness when computed (docs/attribution.md). */
export function renderQuality(r: AttributionResult): string | undefined {
  const parts: string[] = [];
  const stopping = (r.config as { stopping?: { type?: unknown } }).stopping?.type;
  if (r.method === "reagent" && typeof stopping === "string" && stopping !== "ensemble") parts.push(`stopping ${stopping}`);
  const f = r.faithfulness ?? {};
  const fmt = (v: number): string => `${v >= 0 ? "+" : ""}${v.toFixed(2)}`;
  for (const [k, label] of [
    ["comprehensiveness_ln_ratio", "comprehensiveness vs random (ln)"],
    ["sufficiency_ln_ratio", "sufficiency vs random (ln)"],
    ["seed_top3_overlap", "seed top-3 overlap"],
  ] as const) {
    const v = f[k];
    if (typeof v === "number") parts.push(`${label} ${k === "seed_top3_overlap" ? v.toFixed(2) : fmt(v)}`);
  }
  const cost = f.faithfulness_sequences;
  if (typeof cost === "number") parts.push(`faithfulness ${cost} sequences`);
  return parts.length > 0 ? parts.join(" · ") : undefined;
}

function truncate(s: string, n: number): string {
  const t = s.replace(/\s+/g, " ").trim();
  return t.length > n ? `${t.slice(0, n - 1)}…` : t;
}
