/**
 * The HTML report and the web view as a person sees them: the real CLI writes a report of a
 * real attribution (`attribute --html`) and of stored ones (`report`), and serves a DuckDB
 * store (`ui`); a real headless Chromium opens them, the DOM is checked (sections, legend,
 * heatmap tokens, matrix shape, filters, links) and screenshots go to test-output/report/ and
 * test-output/ui/. Screenshots are compared structurally: the sections' order and boxes on the
 * page, not pixels (fonts differ between machines).
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import type { Browser, Page } from "puppeteer-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DuckDbSink } from "../../connectors/duckdb/sink.js";
import { attributionResultSchema } from "../../schemas/attribution-result.js";
import { QUERY_DATASET } from "../conformance/query-dataset.js";
import { artifactPath, writeJsonArtifact } from "./fixtures/artifacts.js";
import { launchBrowser } from "./fixtures/browser.js";
import { cleanEnv, runCli } from "./fixtures/cli.js";

const ROOT = resolve(import.meta.dirname, "../..");
const SECTIONS = ["convergence", "legend", "heatmap", "completion", "top-spans", "segments", "matrix", "cost"] as const;

interface Box {
  id: string;
  top: number;
  height: number;
  width: number;
}

/** The layout of a report section: its parts' boxes, top to bottom. */
async function layout(page: Page, scope = "section.attribution"): Promise<Box[]> {
  return (await page.evaluate(
    `[...document.querySelector(${JSON.stringify(scope)}).querySelectorAll("[data-testid]")].map((e) => { const r = e.getBoundingClientRect(); return { id: e.dataset.testid, top: Math.round(r.top + scrollY), height: Math.round(r.height), width: Math.round(r.width) }; })`,
  )) as Box[];
}

/** The structural expectations every report section meets, whatever the fonts. */
function expectReportStructure(boxes: Box[]): void {
  const order = boxes.map((b) => b.id).filter((id) => (SECTIONS as readonly string[]).includes(id));
  expect(order).toEqual(SECTIONS);
  for (let i = 1; i < boxes.length; i++) expect(boxes[i]!.top).toBeGreaterThanOrEqual(boxes[i - 1]!.top);
  for (const b of boxes) expect(b.height, b.id).toBeGreaterThan(0);
}

describe("HTML report and web view in a real browser", () => {
  const dir = mkdtempSync(join(tmpdir(), "reagent-report-"));
  const db = join(dir, "audit.duckdb");
  let browser: Browser;
  let ui: ChildProcess | undefined;

  beforeAll(async () => {
    const duck = new DuckDbSink({ type: "duckdb", path: db, store_text: "full" });
    await duck.start();
    await Promise.all(QUERY_DATASET.map((r) => duck.write(r)));
    await duck.close();
    browser = await launchBrowser();
  }, 600_000);

  afterAll(async () => {
    ui?.kill("SIGTERM");
    await browser?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("attribute --html writes a report with heatmap, legend, token matrix, top spans, shares, convergence and cost", async () => {
    const html = join(dir, "nested", "dir", "report.html"); // parent directories are created
    const json = join(dir, "result.json");
    const r = await runCli(
      ["attribute", "--prompt", "When my flight landed in Greece, I converted my currency and slowly fell asleep. I was staying in the capital,", "--completion", " Athens, of course", "--num-probes", "4", "--max-steps", "40", "--html", html, "--out", json],
      cleanEnv({}),
    );
    expect(r.code, r.stderr).toBe(0);
    const result = attributionResultSchema.parse(JSON.parse(readFileSync(json, "utf8")));
    const page = await browser.newPage();
    await page.setViewport({ width: 1300, height: 1000 });
    await page.goto(`file://${html}`);
    const boxes = await layout(page);
    expectReportStructure(boxes);
    const dom = (await page.evaluate(`({
      tokens: document.querySelectorAll('[data-testid=heatmap] .tok:not(.prot)').length,
      swatches: [...document.querySelectorAll('[data-testid=legend] .sw')].map((e) => e.getBoundingClientRect().width),
      columns: document.querySelectorAll('[data-testid=matrix] th.col').length,
      spanRows: document.querySelectorAll('[data-testid=top-spans] tbody tr').length,
      badge: document.querySelector('[data-testid=convergence] .badge').textContent,
      text: document.body.innerText,
    })`)) as { tokens: number; swatches: number[]; columns: number; spanRows: number; badge: string; text: string };
    expect(dom.tokens).toBe(result.prompt.tokens.filter((t) => !t.protected && t.end > t.start).length);
    expect(dom.swatches).toHaveLength(7);
    expect(new Set(dom.swatches.map(Math.round)).size).toBe(1); // equal steps: an absolute scale, not a gradient per result
    expect(dom.columns).toBe(result.targets.length);
    expect(dom.spanRows).toBe(result.spans.length);
    expect(dom.badge).toBe(result.convergence.converged ? "converged" : "NOT CONVERGED");
    expect(dom.text).toContain("Greece");
    const shot = artifactPath("report", "attribute-html.png");
    await page.screenshot({ path: shot, fullPage: true });
    writeJsonArtifact("report/attribute-html.layout.json", boxes);
    await page.close();
  }, 300_000);

  it("report renders stored attributions from DuckDB, one section each, with trace links", async () => {
    const out = join(dir, "stored.html");
    const ids = QUERY_DATASET.slice(0, 3).map((r) => r.attribution_id);
    const r = await runCli(["report", "--file", db, "--id", ...ids, "--out", out, "--trace-url", "http://phoenix.local/redirects/traces/{trace_id}"], cleanEnv({}));
    expect(r.code, r.stderr).toBe(0);
    const page = await browser.newPage();
    await page.goto(`file://${out}`);
    const found = (await page.evaluate(`[...document.querySelectorAll('section.attribution')].map((s) => s.dataset.attributionId)`)) as string[];
    expect(found).toEqual(ids);
    const hrefs = (await page.evaluate(`[...document.querySelectorAll('[data-testid=trace-link]')].map((a) => a.getAttribute('href'))`)) as string[];
    expect(hrefs).toEqual(QUERY_DATASET.slice(0, 3).map((x) => `http://phoenix.local/redirects/traces/${x.context.trace_id ?? ""}`));
    expectReportStructure(await layout(page));
    await page.screenshot({ path: artifactPath("report", "stored-duckdb.png"), fullPage: true });
    await page.close();
  }, 120_000);

  it("ui lists, filters and opens stored attributions, and links their traces", async () => {
    const child = spawn(process.execPath, [join(ROOT, "bin/reagent-stream.js"), "ui", "--file", db, "--port", "0", "--trace-url", "http://phoenix.local/redirects/traces/{trace_id}"], {
      cwd: ROOT,
      env: cleanEnv({}),
      stdio: ["ignore", "pipe", "pipe"],
    });
    ui = child;
    const url = await new Promise<string>((res, rej) => {
      let err = "";
      const t = setTimeout(() => rej(new Error(`ui did not start: ${err}`)), 60_000);
      child.stderr.on("data", (c: Buffer) => {
        err += c.toString();
        const m = /(http:\/\/127\.0\.0\.1:\d+)/.exec(err);
        if (m) {
          clearTimeout(t);
          res(m[1]!);
        }
      });
    });
    const page = await browser.newPage();
    await page.setViewport({ width: 1400, height: 900 });
    await page.goto(url, { waitUntil: "load" });
    const rows = async (): Promise<string[]> => (await page.evaluate(`[...document.querySelectorAll('[data-testid=row]')].map((r) => r.dataset.attributionId)`)) as string[];
    const all = await rows();
    expect(new Set(all)).toEqual(new Set(QUERY_DATASET.map((r) => r.attribution_id)));
    await page.screenshot({ path: artifactPath("ui", "list.png"), fullPage: true });

    // Filter as a person does: choose "converged: no", submit.
    await page.select("select[name=converged]", "no");
    await Promise.all([page.waitForNavigation({ waitUntil: "load" }), page.click("form[data-testid=filters] button[type=submit]")]);
    const unconverged = QUERY_DATASET.filter((r) => !r.convergence.converged).map((r) => r.attribution_id);
    expect(await rows()).toEqual(unconverged);
    await page.screenshot({ path: artifactPath("ui", "list-filtered-not-converged.png"), fullPage: true });

    // Filter by model and a faithfulness range through the URL, too.
    await page.goto(`${url}/?min_faithfulness=0.4&max_faithfulness=1`, { waitUntil: "load" });
    const faithful = QUERY_DATASET.filter((r) => (r.faithfulness?.comprehensiveness ?? -1) >= 0.4).map((r) => r.attribution_id);
    expect(new Set(await rows())).toEqual(new Set(faithful));

    // Open one: its report, the trace link, and the way back.
    await page.goto(url, { waitUntil: "load" });
    const target = QUERY_DATASET[1]!;
    await Promise.all([page.waitForNavigation({ waitUntil: "load" }), page.click(`tr[data-attribution-id="${target.attribution_id}"] a[href^="/a/"]`)]);
    expect(page.url()).toBe(`${url}/a/${target.attribution_id}`);
    expectReportStructure(await layout(page));
    const href = (await page.evaluate(`document.querySelector('[data-testid=trace-link]').getAttribute('href')`)) as string;
    expect(href).toBe(`http://phoenix.local/redirects/traces/${target.context.trace_id ?? ""}`);
    const badge = (await page.evaluate(`document.querySelector('[data-testid=convergence] .badge').textContent`)) as string;
    expect(badge).toBe("NOT CONVERGED");
    await page.screenshot({ path: artifactPath("ui", "report.png"), fullPage: true });
    await Promise.all([page.waitForNavigation({ waitUntil: "load" }), page.click("[data-testid=back]")]);
    expect(page.url()).toBe(`${url}/`);

    // A bad filter value is a page that says so, not a crash; an unknown id is a 404.
    const bad = await page.goto(`${url}/?from=not-a-day`, { waitUntil: "load" });
    expect(bad?.status()).toBe(400);
    const missing = await page.goto(`${url}/a/nope`, { waitUntil: "load" });
    expect(missing?.status()).toBe(404);
    await page.close();
  }, 180_000);
});
