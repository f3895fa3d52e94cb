/** parseConfig: the one zod -> ConfigError path every config boundary uses. */
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { describeIssues, parseConfig } from "../../src/config-issues.js";
import { ConfigError } from "../../src/errors.js";

const store = z.discriminatedUnion("type", [
  z.object({ type: z.literal("clickhouse"), url: z.string(), batch: z.object({ max_rows: z.number().int().default(10) }).strict().prefault({}) }).strict(),
  z.object({ type: z.literal("duckdb"), path: z.string() }).strict(),
]);

function fail(input: unknown, path?: string): ConfigError {
  try {
    parseConfig(store, input, { what: "reading the sink settings", ...(path === undefined ? {} : { path }) });
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error("parsed");
}

describe("parseConfig", () => {
  it("returns the parsed value with defaults", () => {
    expect(parseConfig(store, { type: "clickhouse", url: "http://x" }, { what: "w" })).toEqual({ type: "clickhouse", url: "http://x", batch: { max_rows: 10 } });
  });

  it("names the field by its full path, prefixed with where the value sits", () => {
    const err = fail({ type: "clickhouse", url: "http://x", batch: { max_rows: "ten" } }, "sinks[0]");
    expect(err.path).toBe("sinks[0].batch.max_rows");
    expect(err.message).toContain("sinks[0].batch.max_rows: expected number, got \"ten\"");
    expect(err.code).toBe("config_invalid");
  });

  it("suggests the near-miss key and the near-miss union type", () => {
    expect(fail({ type: "duckdb", paht: "x.duckdb" }).message).toContain('unknown field "paht" (did you mean "path"?)');
    const t = fail({ type: "duckbd", path: "x" }, "sink");
    expect(t.path).toBe("sink.type");
    expect(t.message).toContain('did you mean "duckdb"?');
  });

  it("lists every problem, not only the first", () => {
    const err = fail({ type: "clickhouse", batch: { max_rows: 1.5 } });
    expect(err.why).toMatch(/^2 problems:/);
    expect(err.details.issues).toHaveLength(2);
  });
});

describe("describeIssues", () => {
  it("writes zod issues as path: message lines for errors that are not ConfigErrors", () => {
    const r = z.object({ a: z.array(z.number()) }).safeParse({ a: [1, "x"] });
    expect(r.success).toBe(false);
    if (!r.success) expect(describeIssues(r.error.issues, ["config.json"])).toMatch(/^config\.json\.a\[1\]: /);
  });
});
