/**
 * The self-contained HTML report of one or more attributions (`attribute --html`,
 * `reagent-stream report`, and each page of `reagent-stream ui`): no script, no external file,
 * one CSS block. Per attribution: the prompt as a heatmap on the absolute scale (legend
 * included), the prompt × completion-token matrix, the top spans (word-aligned), the segment
 * shares (additive, messages nested under their role), convergence (a visible "not converged"
 * state), faithfulness and cost.
 */
import type { AttributionResult } from "../../schemas/attribution-result.js";
import { wordAlignedText } from "../text/words.js";
import { SCALE_COLORS, SCALE_INK, scaleLabels, scaleLevel } from "./scale.js";

export interface ReportOptions {
  readonly title?: string;
  /** A link for a trace id (e.g. your Phoenix/Jaeger URL); none: the id is shown as text. */
  readonly traceUrl?: (traceId: string) => string | undefined;
  /** Shown in the footer (the command that made the report). */
  readonly generatedBy?: string;
  /** Extra HTML put before the sections (the web view's navigation); trusted markup. */
  readonly headerHtml?: string;
}

/** Most prompt rows in the matrix; longer prompts show their most important tokens. */
const MATRIX_MAX_ROWS = 80;

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c] as string);
}

const pct = (v: number, digits = 1): string => `${(v * 100).toFixed(digits)}%`;

function levelStyle(share: number): string {
  const l = scaleLevel(share);
  return `background:${SCALE_COLORS[l] as string};color:${SCALE_INK[l] as string}`;
}

export const REPORT_CSS = `
:root{font-family:system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;color:#1d1d1f;background:#f6f6f4}
body{margin:0;padding:24px;max-width:1200px}
h1{font-size:22px;margin:0 0 4px} h2{font-size:18px;margin:0} h3{font-size:14px;margin:18px 0 6px;text-transform:uppercase;letter-spacing:.04em;color:#555}
section.attribution{background:#fff;border:1px solid #ddd;border-radius:8px;padding:18px 20px;margin:18px 0}
.meta{color:#555;font-size:13px;margin:4px 0 0} .meta code{font-size:12px}
.badge{display:inline-block;padding:2px 8px;border-radius:10px;font-size:12px;font-weight:600;margin-right:6px}
.badge.ok{background:#dff3e3;color:#13612b} .badge.bad{background:#ffe1e1;color:#a40000;border:1px solid #a40000}
.warn{background:#fff4e0;border-left:4px solid #e69500;padding:8px 10px;font-size:13px;margin:8px 0}
.heatmap{font-family:ui-monospace,"DejaVu Sans Mono",monospace;font-size:14px;line-height:1.9;white-space:pre-wrap;word-break:break-word;border:1px solid #eee;padding:10px;border-radius:6px}
.heatmap.flat{opacity:.85}
.tok{border-radius:3px;padding:1px 0} .tok.prot{color:#999;font-size:11px}
.legend{display:flex;gap:0;align-items:center;font-size:12px;margin:6px 0;flex-wrap:wrap} .legend span.sw{display:inline-block;width:46px;text-align:center;padding:2px 0;border:1px solid #ddd}
.completion{font-family:ui-monospace,"DejaVu Sans Mono",monospace;background:#eef5ff;padding:6px 8px;border-radius:4px;white-space:pre-wrap}
table{border-collapse:collapse;font-size:13px} th,td{padding:3px 8px;text-align:left;border-bottom:1px solid #eee;vertical-align:top}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
.bar{display:inline-block;height:10px;background:#f0502e;border-radius:2px;vertical-align:middle}
table.matrix td.cell{width:44px;text-align:right;font-size:11px;font-variant-numeric:tabular-nums;border:1px solid #fff}
table.matrix th.col{writing-mode:vertical-rl;transform:rotate(180deg);font-family:ui-monospace,monospace;font-weight:500;max-height:120px}
table.matrix td.rowlabel{font-family:ui-monospace,monospace;white-space:pre}
.nested td:first-child{padding-left:24px;color:#555}
footer{color:#777;font-size:12px;margin-top:24px}
`;

function heatmap(r: AttributionResult): string {
  const text = r.prompt.text;
  const imp = r.sequence.importance;
  let out = "";
  let cursor = 0;
  r.prompt.tokens.forEach((t, i) => {
    if (t.end <= t.start || t.start < cursor) return;
    out += escapeHtml(text.slice(cursor, t.start));
    const piece = escapeHtml(text.slice(t.start, t.end));
    const share = imp[i] ?? 0;
    if (t.protected) out += `<span class="tok prot" title="template token (never replaced)">${piece}</span>`;
    else out += `<span class="tok" data-share="${share.toFixed(6)}" style="${levelStyle(share)}" title="${escapeHtml(JSON.stringify(t.text))} · ${pct(share, 2)}">${piece}</span>`;
    cursor = t.end;
  });
  out += escapeHtml(text.slice(cursor));
  return out;
}

export function legendHtml(): string {
  const labels = scaleLabels();
  const sw = labels.map((l, i) => `<span class="sw" style="background:${SCALE_COLORS[i] as string};color:${SCALE_INK[i] as string}">${escapeHtml(l)}</span>`).join("");
  return `<div class="legend" data-testid="legend"><span style="margin-right:8px">share of the prompt's importance (same scale for every attribution):</span>${sw}</div>`;
}

function matrix(r: AttributionResult): string {
  const P = r.prompt.tokens.length;
  const targets = [...r.targets].sort((a, b) => a.index - b.index);
  if (targets.length === 0) return `<p class="meta">No target token was attributed.</p>`;
  let rows = r.prompt.tokens.map((t, i) => ({ t, i })).filter(({ t }) => !t.protected && t.end > t.start);
  let note = "";
  if (rows.length > MATRIX_MAX_ROWS) {
    const keep = new Set(
      [...rows]
        .sort((a, b) => (r.sequence.importance[b.i] ?? 0) - (r.sequence.importance[a.i] ?? 0))
        .slice(0, MATRIX_MAX_ROWS)
        .map(({ i }) => i),
    );
    rows = rows.filter(({ i }) => keep.has(i));
    note = `<p class="meta">The ${MATRIX_MAX_ROWS} most important of ${P} prompt tokens, in prompt order.</p>`;
  }
  const head = targets
    .map((tg) => {
      const tok = r.completion.tokens[tg.index];
      return `<th class="col" title="completion token ${tg.index}${tg.converged ? "" : " (not converged)"}">${escapeHtml(tok?.text ?? `#${tg.index}`)}${tg.converged ? "" : " ⚠"}</th>`;
    })
    .join("");
  const body = rows
    .map(({ t, i }) => {
      const cells = targets.map((tg) => {
        const v = tg.importance[i] ?? 0;
        return `<td class="cell" style="${levelStyle(v)}" title="${pct(v, 2)}">${v >= 0.005 ? Math.round(v * 100) : ""}</td>`;
      });
      return `<tr><td class="rowlabel">${escapeHtml(t.text)}</td>${cells.join("")}</tr>`;
    })
    .join("");
  // What a target gave to earlier completion tokens (it flows back to the prompt in the sequence view).
  const earlier = targets.map((tg) => {
    let s = 0;
    for (let j = P; j < tg.importance.length; j++) s += tg.importance[j] ?? 0;
    return `<td class="cell" style="${levelStyle(s)}" title="${pct(s, 2)}">${s >= 0.005 ? Math.round(s * 100) : ""}</td>`;
  });
  return `${note}<table class="matrix" data-testid="matrix"><thead><tr><th>prompt token ↓ · completion token →</th>${head}</tr></thead><tbody>${body}<tr><td class="rowlabel"><em>earlier completion tokens</em></td>${earlier.join("")}</tr></tbody></table>
<p class="meta">Each column is one completion token; cells are that token's importance in % (same colour scale). ⚠ marks a token whose probes never converged.</p>`;
}

function topSpans(r: AttributionResult): string {
  const spans = [...r.spans].sort((a, b) => a.rank - b.rank);
  if (spans.length === 0) return `<p class="meta">No prompt span stands out.</p>`;
  const max = Math.max(...spans.map((s) => s.score), 1e-9);
  const rows = spans
    .map(
      (s) =>
        `<tr><td class="num">${s.rank}</td><td class="num">${pct(s.score)}</td><td><span class="bar" style="width:${Math.round((s.score / max) * 120)}px"></span></td><td>${escapeHtml(JSON.stringify(wordAlignedText(r.prompt.text, s.start, s.end)))}</td><td>${escapeHtml(s.segment ?? "")}</td><td class="num">${s.start}–${s.end}</td></tr>`,
    )
    .join("");
  return `<table data-testid="top-spans"><thead><tr><th class="num">#</th><th class="num">share</th><th></th><th>text (whole words)</th><th>segment</th><th class="num">chars</th></tr></thead><tbody>${rows}</tbody></table>`;
}

function segments(r: AttributionResult): string {
  const additive = r.segments.filter((s) => s.kind !== "message").sort((a, b) => b.share - a.share);
  if (additive.length === 0) return "";
  const messages = r.segments.filter((s) => s.kind === "message");
  const rows: string[] = [];
  for (const s of additive) {
    rows.push(`<tr><td>${escapeHtml(s.name)}</td><td>${s.kind}</td><td class="num">${pct(s.share)}</td><td><span class="bar" style="width:${Math.round(s.share * 200)}px"></span></td></tr>`);
    if (s.kind === "role") {
      for (const m of messages.filter((x) => x.name.startsWith(`${s.name}#`)).sort((a, b) => (a.message_index ?? 0) - (b.message_index ?? 0))) {
        rows.push(`<tr class="nested"><td>of which ${escapeHtml(m.name)}</td><td>message</td><td class="num">${pct(m.share)}</td><td><span class="bar" style="width:${Math.round(m.share * 200)}px;opacity:.5"></span></td></tr>`);
      }
    }
  }
  const total = additive.reduce((a, s) => a + s.share, 0);
  return `<table data-testid="segments"><thead><tr><th>segment</th><th>kind</th><th class="num">share</th><th></th></tr></thead><tbody>${rows.join("")}</tbody></table>
<p class="meta">Roles, configured segments and the rest of the prompt add up to ${pct(Math.min(1, total))}; a message's share is part of its role's (so the nested rows are not added again).</p>`;
}

function convergence(r: AttributionResult): string {
  const c = r.convergence;
  const badge = c.converged ? `<span class="badge ok">converged</span>` : `<span class="badge bad">NOT CONVERGED</span>`;
  const warn = c.converged
    ? ""
    : `<div class="warn">${c.targets_total - c.targets_converged} of ${c.targets_total} completion tokens never had a converged probe: their importance is the mean over all probes. Treat the ranking as a rough estimate (more <code>max_steps</code>, or another sampler).</div>`;
  return `<div data-testid="convergence">${badge}${c.targets_converged}/${c.targets_total} completion tokens converged · ${c.probes_converged}/${c.probes_total} probes · ${c.steps_total} steps (longest probe ${c.steps_max})${warn}</div>`;
}

function faithfulness(r: AttributionResult): string {
  const f = Object.entries(r.faithfulness ?? {});
  if (f.length === 0) return `<p class="meta" data-testid="faithfulness">Faithfulness was not computed for this attribution.</p>`;
  return `<table data-testid="faithfulness"><thead><tr><th>metric</th><th class="num">value</th></tr></thead><tbody>${f.map(([k, v]) => `<tr><td>${escapeHtml(k)}</td><td class="num">${v.toFixed(3)}</td></tr>`).join("")}</tbody></table>`;
}

function cost(r: AttributionResult): string {
  const rows: [string, string][] = [
    ["method", `${r.method}${r.mode === null ? "" : ` / ${r.mode}`} · sampler ${r.sampler} · seed ${JSON.stringify(r.config.seed ?? null)}`],
    ["model calls", String(r.cost.model_calls)],
    ["sequences scored", String(r.cost.sequences_evaluated)],
    ["tokens processed", String(r.cost.tokens_processed)],
    ["wall time", `${(r.timings.duration_ms / 1000).toFixed(2)} s (started ${r.timings.started_at})`],
    ["scoring model", r.model.scorer_id],
    ["config hash", r.config_hash],
  ];
  return `<table data-testid="cost"><tbody>${rows.map(([k, v]) => `<tr><th>${escapeHtml(k)}</th><td>${escapeHtml(v)}</td></tr>`).join("")}</tbody></table>`;
}

/** One attribution as a <section>. */
export function renderResultSection(r: AttributionResult, opts: ReportOptions = {}): string {
  const ctx = r.context;
  const trace = ctx.trace_id === null ? "" : (() => {
    const href = opts.traceUrl?.(ctx.trace_id);
    const id = escapeHtml(ctx.trace_id);
    return ` · trace <a data-testid="trace-link" ${href === undefined ? "" : `href="${escapeHtml(href)}"`}><code>${id}</code></a>`;
  })();
  const title = [ctx.record_id ?? "attribution", ctx.logged_model ?? r.model.name].map(escapeHtml).join(" · ");
  const ids = `attribution <code>${escapeHtml(r.attribution_id)}</code>${ctx.response_id === null ? "" : ` · response <code>${escapeHtml(ctx.response_id)}</code>`}${ctx.tenant_id === null ? "" : ` · tenant ${escapeHtml(ctx.tenant_id)}`}${trace}`;
  const warnings = r.warnings.length === 0 ? "" : `<div class="warn">${r.warnings.map(escapeHtml).join("<br>")}</div>`;
  return `<section class="attribution" data-attribution-id="${escapeHtml(r.attribution_id)}">
<h2>${title}</h2>
<p class="meta">${ids}</p>
<h3>Convergence</h3>${convergence(r)}
<h3>Prompt</h3>${legendHtml()}
<div class="heatmap${r.convergence.converged ? "" : " flat"}" data-testid="heatmap">${heatmap(r)}</div>
<h3>Completion</h3><div class="completion" data-testid="completion">${escapeHtml(r.completion.text)}</div>
<h3>Top spans</h3>${topSpans(r)}
<h3>Share by segment</h3>${segments(r)}
<h3>Prompt × completion tokens</h3>${matrix(r)}
<h3>Faithfulness</h3>${faithfulness(r)}
<h3>Cost</h3>${cost(r)}
${warnings}
</section>`;
}

/** A whole HTML document for the results. */
export function renderReport(results: readonly AttributionResult[], opts: ReportOptions = {}): string {
  const title = opts.title ?? (results.length === 1 ? `Attribution ${results[0]?.context.record_id ?? results[0]?.attribution_id ?? ""}` : `${results.length} attributions`);
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)} — reagent-stream</title><style>${REPORT_CSS}</style></head>
<body>${opts.headerHtml ?? ""}
<h1>${escapeHtml(title)}</h1>
<p class="meta">Which parts of the prompt drove the completion (ReAGent token attribution). Darker = a larger share of the prompt's importance, on one absolute scale.</p>
${results.map((r) => renderResultSection(r, opts)).join("\n")}
<footer>reagent-stream${opts.generatedBy === undefined ? "" : ` · ${escapeHtml(opts.generatedBy)}`}</footer>
</body></html>
`;
}
