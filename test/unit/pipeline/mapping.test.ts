import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { RecordValidationError } from "../../../src/errors.js";
import { RecordMapper, jsonDepthOver, mappingConfigSchema, type MappingConfigInput } from "../../../src/pipeline/mapping/mapper.js";
import { getPath, parsePath } from "../../../src/pipeline/mapping/paths.js";

interface Case {
  name: string;
  config?: MappingConfigInput;
  input?: unknown;
  raw?: string;
  rawBase64?: string;
  expect?: Record<string, unknown>;
  idPrefix?: string;
  /** Issue paths that must be reported. */
  error?: string[];
}

const dir = join(import.meta.dirname, "fixtures/mapping");
const files = readdirSync(dir).filter((f) => f.endsWith(".json"));

function bytes(c: Case): Buffer {
  if (c.rawBase64 !== undefined) return Buffer.from(c.rawBase64, "base64");
  return Buffer.from(c.raw ?? JSON.stringify(c.input));
}

describe("mapping presets (fixtures in test/unit/pipeline/fixtures/mapping)", () => {
  for (const file of files) {
    const cases = JSON.parse(readFileSync(join(dir, file), "utf8")) as Case[];
    describe(file, () => {
      it.each(cases.map((c) => [c.name, c] as const))("%s", (_name, c) => {
        const mapper = new RecordMapper(c.config ?? {});
        const raw = { value: bytes(c), timestamp: "2024-01-01T00:00:00.000Z" };
        if (c.error) {
          let err: unknown;
          try {
            mapper.map(raw);
          } catch (e) {
            err = e;
          }
          expect(err).toBeInstanceOf(RecordValidationError);
          const issues = (err as RecordValidationError).issues.map((i) => i.path);
          for (const p of c.error) expect(issues).toContain(p);
          expect((err as RecordValidationError).code).toBe("record_invalid");
          return;
        }
        const { record } = mapper.map(raw);
        expect(record).toMatchObject(c.expect ?? {});
        if (c.idPrefix) expect(record.id.startsWith(c.idPrefix)).toBe(true);
      });
    });
  }

  it("covers every preset with at least one valid and one malformed case", () => {
    const all = files.flatMap((f) => JSON.parse(readFileSync(join(dir, f), "utf8")) as Case[]);
    expect(files.sort()).toEqual(["canonical.json", "custom.json", "flat.json", "openai.json", "openinference.json", "otel-genai.json"]);
    for (const f of files) {
      const cs = JSON.parse(readFileSync(join(dir, f), "utf8")) as Case[];
      expect(cs.some((c) => c.error)).toBe(true);
      expect(cs.some((c) => !c.error)).toBe(true);
    }
    expect(all.length).toBeGreaterThan(25);
  });

  it("auto detects each preset", () => {
    const m = new RecordMapper();
    const pick = (doc: unknown): string => m.map({ value: Buffer.from(JSON.stringify(doc)) }).preset;
    expect(pick({ id: "a", prompt: "p", completion: { text: "c" } })).toBe("canonical");
    expect(pick({ request: { messages: [{ role: "user", content: "p" }] }, response: { choices: [{ message: { content: "c" } }] } })).toBe("openai");
    expect(pick({ attributes: { "gen_ai.prompt": "p", "gen_ai.completion": "c" } })).toBe("otel_genai");
    expect(pick({ attributes: { "llm.input_messages.0.message.role": "user", "llm.input_messages.0.message.content": "p", "llm.output_messages.0.message.content": "c" } })).toBe("openinference");
    expect(pick({ prompt: "p", completion: "c" })).toBe("flat");
  });

  it("is deterministic: the same bytes map to the same record (ids of id-less records included)", () => {
    const m = new RecordMapper();
    const v = Buffer.from(JSON.stringify({ prompt: "p", completion: "c" }));
    expect(m.map({ value: v }).record).toEqual(m.map({ value: v }).record);
  });

  it("rejects JSON nested deeper than max_depth before parsing it; brackets inside strings do not count", () => {
    const nest = (n: number): string => `{"id":"x","prompt":"p","completion":"c","metadata":{"a":${"[".repeat(n)}${"]".repeat(n)}}}`;
    expect(jsonDepthOver(Buffer.from(nest(10)), 12)).toBe(false);
    expect(jsonDepthOver(Buffer.from(nest(11)), 12)).toBe(true);
    // An escaped quote does not end the string: the brackets after it are still text.
    expect(jsonDepthOver(Buffer.from(JSON.stringify({ a: `${"[".repeat(100)}"[` })), 2)).toBe(false);
    const err = (() => {
      try {
        new RecordMapper({ max_depth: 8 }).map({ value: Buffer.from(nest(20)) });
      } catch (e) {
        return e as RecordValidationError;
      }
      return undefined;
    })();
    expect(err).toBeInstanceOf(RecordValidationError);
    expect(err?.stage).toBe("parse");
    expect(err?.message).toMatch(/nested deeper than 8 levels/);
  });

  it("rejects records without an id when missing_id is reject, and oversized records", () => {
    expect(() => new RecordMapper({ missing_id: "reject" }).map({ value: Buffer.from('{"prompt":"p","completion":"c"}') })).toThrow(/id/);
    expect(() => new RecordMapper({ max_record_bytes: 64 }).map({ value: Buffer.alloc(100, 0x20) })).toThrow(/max_record_bytes/);
  });

  it("validates its config: custom needs prompt and completion paths; field names are checked", () => {
    expect(mappingConfigSchema.safeParse({ preset: "custom" }).success).toBe(false);
    expect(mappingConfigSchema.safeParse({ fields: { prompt_text: "x" } }).success).toBe(false);
    expect(mappingConfigSchema.safeParse({ fields: { "metadata.region": "x.y", "params.top_k": "k" } }).success).toBe(true);
  });
});

describe("dotted paths", () => {
  it("parses indices and brackets", () => {
    expect(parsePath("a.b[0].c")).toEqual(["a", "b", 0, "c"]);
    expect(parsePath("a.0.c")).toEqual(["a", 0, "c"]);
  });

  it("prefers the longest matching key (flat OTel attribute maps) and reads OTLP KeyValue lists as maps", () => {
    const doc = { attributes: { "gen_ai.request.model": "m", gen_ai: { request: "nested" } } };
    expect(getPath(doc, "attributes.gen_ai.request.model")).toBe("m");
    expect(getPath(doc, "attributes.gen_ai.request")).toBe("nested");
    const otlp = { attributes: [{ key: "app.tenant", value: { stringValue: "acme" } }, { key: "n", value: { intValue: "5" } }] };
    expect(getPath(otlp, "attributes.app.tenant")).toBe("acme");
    expect(getPath(otlp, "attributes.n")).toBe(5);
    expect(getPath(otlp, "attributes.missing")).toBeUndefined();
  });
});
