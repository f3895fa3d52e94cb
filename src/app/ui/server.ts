/**
 * `reagent-stream ui`: a small local web app over a DuckDB or ClickHouse store. `/` lists the
 * attributions (the `attributions_list` audit query: filter by model, tenant, time,
 * convergence and a faithfulness range); `/a/{attribution_id}` is that attribution's HTML
 * report, with a link to its trace when a trace URL template is given. Server-rendered HTML,
 * no script; it binds to 127.0.0.1 unless told otherwise, and only reads the store.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { AuditSink } from "../../../connectors/sink-common/audit-sink.js";
import { findQuery } from "../../../connectors/sink-common/query-pack.js";
import { errorMessage } from "../../errors.js";
import { escapeHtml, REPORT_CSS, renderReport } from "../../report/html.js";
import { SCALE_COLORS, SCALE_INK, scaleLevel } from "../../report/scale.js";
import { readStoredResults } from "../results-input.js";

export interface UiOptions {
  readonly store: AuditSink;
  readonly host: string;
  readonly port: number;
  /** e.g. http://phoenix:6006/redirects/traces/{trace_id}; `{trace_id}` is replaced. */
  readonly traceUrl?: string;
}

export interface UiServer {
  readonly url: string;
  close(): Promise<void>;
}

const FILTERS = ["model", "tenant", "from", "to", "converged", "metric", "min_faithfulness", "max_faithfulness", "limit"] as const;

function traceLink(template: string | undefined): ((id: string) => string | undefined) | undefined {
  return template === undefined ? undefined : (id) => template.replaceAll("{trace_id}", encodeURIComponent(id));
}

function send(res: ServerResponse, status: number, html: string): void {
  res.writeHead(status, { "content-type": "text/html; charset=utf-8", "cache-control": "no-store" });
  res.end(html);
}

function page(title: string, body: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(title)} — reagent-stream</title><style>${REPORT_CSS}
form.filters{display:flex;gap:10px;flex-wrap:wrap;align-items:end;background:#fff;border:1px solid #ddd;border-radius:8px;padding:12px;margin:12px 0}
form.filters label{display:flex;flex-direction:column;font-size:12px;color:#555} form.filters input,form.filters select{font-size:13px;padding:3px 4px}
table.list{background:#fff;width:100%} table.list td{font-size:13px} a{color:#0b57d0}
nav{font-size:13px;margin-bottom:8px}</style></head><body>${body}</body></html>`;
}

/** A cell as text (store values are strings, numbers or null). */
function cell(v: unknown): string {
  return v === null || v === undefined ? "" : typeof v === "string" ? v : typeof v === "number" || typeof v === "bigint" || typeof v === "boolean" ? v.toString() : JSON.stringify(v);
}

async function listPage(o: UiOptions, q: URLSearchParams): Promise<string> {
  const params: Record<string, string> = {};
  for (const k of FILTERS) {
    const v = q.get(k);
    if (v !== null && v !== "") params[k] = v;
  }
  const result = await o.store.runQuery(findQuery("attributions_list"), params);
  const link = traceLink(o.traceUrl);
  const val = (k: string): string => escapeHtml(q.get(k) ?? "");
  const sel = (k: string, v: string): string => ((q.get(k) ?? "") === v ? " selected" : "");
  const form = `<form class="filters" method="get" action="/" data-testid="filters">
<label>model<input name="model" value="${val("model")}"></label>
<label>tenant<input name="tenant" value="${val("tenant")}"></label>
<label>from (day)<input name="from" type="date" value="${val("from")}"></label>
<label>to (day)<input name="to" type="date" value="${val("to")}"></label>
<label>converged<select name="converged"><option value=""${sel("converged", "")}>all</option><option value="yes"${sel("converged", "yes")}>yes</option><option value="no"${sel("converged", "no")}>no</option></select></label>
<label>faithfulness metric<input name="metric" value="${val("metric") || "comprehensiveness"}"></label>
<label>min<input name="min_faithfulness" size="5" value="${val("min_faithfulness")}"></label>
<label>max<input name="max_faithfulness" size="5" value="${val("max_faithfulness")}"></label>
<button type="submit">filter</button> <a href="/">clear</a></form>`;
  const rows = result.rows
    .map((r) => {
      const id = cell(r.attribution_id);
      const trace = cell(r.trace_id);
      const traceHref = trace === "" ? undefined : link?.(trace);
      const share = Number(r.top_share ?? 0);
      const l = scaleLevel(share);
      const conv = Number(r.converged) === 1 ? `<span class="badge ok">yes</span>` : `<span class="badge bad">NO</span>`;
      const faith = r.faithfulness === null || r.faithfulness === undefined ? "—" : Number(r.faithfulness).toFixed(3);
      return `<tr data-testid="row" data-attribution-id="${escapeHtml(id)}"><td><a href="/a/${encodeURIComponent(id)}">${escapeHtml(cell(r.record_id) || id)}</a></td><td>${escapeHtml(cell(r.event_time))}</td><td>${escapeHtml(cell(r.model))}</td><td>${escapeHtml(cell(r.tenant_id))}</td><td>${conv} ${escapeHtml(cell(r.targets))}</td><td class="num">${faith}</td><td><span class="tok" style="background:${SCALE_COLORS[l] as string};color:${SCALE_INK[l] as string}">${escapeHtml(cell(r.top_span))}</span> ${(share * 100).toFixed(1)}%</td><td>${trace === "" ? "" : traceHref === undefined ? `<code>${escapeHtml(trace)}</code>` : `<a href="${escapeHtml(traceHref)}"><code>${escapeHtml(trace)}</code></a>`}</td></tr>`;
    })
    .join("");
  return page(
    "Attributions",
    `<h1>Attributions</h1><p class="meta">${result.rows.length} shown, newest first (at most ${escapeHtml(params.limit ?? "200")}). Open one to see its report.</p>${form}
<table class="list" data-testid="list"><thead><tr><th>record</th><th>time (UTC)</th><th>model</th><th>tenant</th><th>converged</th><th class="num">faithfulness</th><th>top span</th><th>trace</th></tr></thead><tbody>${rows}</tbody></table>`,
  );
}

async function reportPage(o: UiOptions, id: string): Promise<string | undefined> {
  const [result] = await readStoredResults(o.store, [id]);
  if (result === undefined) return undefined;
  const link = traceLink(o.traceUrl);
  return renderReport([result], { ...(link === undefined ? {} : { traceUrl: link }), headerHtml: `<nav><a href="/" data-testid="back">← all attributions</a></nav>`, generatedBy: "reagent-stream ui" });
}

async function handle(o: UiOptions, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? "/", "http://localhost");
  if (req.method !== "GET") return send(res, 405, page("Not allowed", "<p>Only GET.</p>"));
  if (url.pathname === "/") return send(res, 200, await listPage(o, url.searchParams));
  if (url.pathname === "/healthz") return send(res, 200, "ok");
  const m = /^\/a\/([^/]+)$/.exec(url.pathname);
  if (m !== null) {
    const id = decodeURIComponent(m[1] as string);
    const html = await reportPage(o, id);
    return html === undefined ? send(res, 404, page("Not found", `<p>No attribution ${escapeHtml(id)} in this store. <a href="/">All attributions</a></p>`)) : send(res, 200, html);
  }
  send(res, 404, page("Not found", `<p>Nothing here. <a href="/">All attributions</a></p>`));
}

export async function startUi(o: UiOptions): Promise<UiServer> {
  const server: Server = createServer((req, res) => {
    handle(o, req, res).catch((err: unknown) => {
      // A bad filter value (e.g. a day that is not a date) is the user's, not a crash.
      if (!res.headersSent) send(res, 400, page("Error", `<p>${escapeHtml(errorMessage(err))}</p><p><a href="/">All attributions</a></p>`));
      else res.end();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(o.port, o.host, () => resolve());
  });
  const addr = server.address() as AddressInfo;
  const host = o.host.includes(":") ? `[${o.host}]` : o.host;
  return {
    url: `http://${host}:${addr.port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
