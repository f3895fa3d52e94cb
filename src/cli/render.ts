/**
 * Terminal rendering of a result: the prompt as a heatmap (background colour by importance),
 * the top spans, segment shares, and a one-line cost summary. Colour only on a TTY without
 * NO_COLOR; otherwise the important text is marked with [[…]].
 */
import type { AttributionResult } from "../../schemas/attribution-result.js";

export interface RenderOptions {
  readonly color: boolean;
}

export function shouldColor(stream: NodeJS.WriteStream): boolean {
  return Boolean(stream.isTTY) && process.env.NO_COLOR === undefined && process.env.TERM !== "dumb";
}

/** xterm-256 background from white (0) through yellow to red (1). */
function heat(v: number): string {
  const ramp = [231, 230, 229, 228, 221, 214, 208, 202, 196];
  const i = Math.max(0, Math.min(ramp.length - 1, Math.round(v * (ramp.length - 1))));
  return `\x1b[48;5;${ramp[i] as number}m\x1b[38;5;16m`;
}

const RESET = "\x1b[0m";

export function renderHeatmap(r: AttributionResult, opts: RenderOptions): string {
  const scores = r.sequence.importance;
  const eligible = r.prompt.tokens.map((t, i) => ({ t, i })).filter(({ t }) => !t.protected && t.end > t.start);
  const vals = eligible.map(({ i }) => scores[i] ?? 0);
  const max = Math.max(1e-12, ...vals);
  const min = Math.min(max, ...vals);
  // Without colour, mark the top tenth of tokens (1 to 8 of them) with [[…]].
  const marked = new Set(
    [...eligible]
      .sort((a, b) => (scores[b.i] ?? 0) - (scores[a.i] ?? 0))
      .slice(0, Math.max(1, Math.min(8, Math.round(eligible.length / 10))))
      .map(({ i }) => i),
  );
  const text = r.prompt.text;
  let out = "";
  let cursor = 0;
  r.prompt.tokens.forEach((t, i) => {
    if (t.end <= t.start || t.start < cursor) return;
    out += text.slice(cursor, t.start);
    const piece = text.slice(t.start, t.end);
    const v = max > min ? ((scores[i] ?? 0) - min) / (max - min) : 0;
    if (opts.color) out += t.protected ? piece : `${heat(v)}${piece}${RESET}`;
    else out += marked.has(i) ? `[[${piece}]]` : piece;
    cursor = t.end;
  });
  out += text.slice(cursor);
  return out;
}

export function renderResult(r: AttributionResult, opts: RenderOptions): string {
  const lines: string[] = [];
  const bold = (s: string): string => (opts.color ? `\x1b[1m${s}${RESET}` : s);
  lines.push(bold("Prompt (darker = more important):"));
  lines.push(renderHeatmap(r, opts));
  lines.push("");
  lines.push(`${bold("Completion:")} ${JSON.stringify(r.completion.text)}`);
  lines.push("");
  lines.push(bold("Top spans:"));
  for (const s of r.spans) {
    const where = s.segment && s.segment !== "prompt" ? ` [${s.segment}]` : "";
    lines.push(`  ${String(s.rank).padStart(2)}. ${(s.score * 100).toFixed(1).padStart(5)}%  ${JSON.stringify(s.text)}  (chars ${s.start}-${s.end})${where}`);
  }
  const shares = r.segments.filter((s) => s.kind !== "message" && s.share > 0.0005);
  if (shares.length > 1 || shares.some((s) => s.kind !== "prompt")) {
    lines.push("");
    lines.push(bold("Share by segment:"));
    for (const s of shares.sort((a, b) => b.share - a.share)) lines.push(`  ${s.name.padEnd(20)} ${(s.share * 100).toFixed(1).padStart(5)}%  (${s.kind})`);
  }
  lines.push("");
  const c = r.convergence;
  lines.push(
    `${r.method}${r.mode ? `/${r.mode}` : ""} · sampler ${r.sampler} · ${c.targets_converged}/${c.targets_total} targets converged ` +
      `(${c.probes_converged}/${c.probes_total} probes, ≤${c.steps_max} steps) · ${r.cost.model_calls} model calls, ` +
      `${r.cost.sequences_evaluated} sequences · ${(r.timings.duration_ms / 1000).toFixed(2)} s · seed ${JSON.stringify(r.config.seed)}`,
  );
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
