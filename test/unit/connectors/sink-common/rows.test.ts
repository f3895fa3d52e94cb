import { describe, expect, it } from "vitest";
import { toRows, normalizeTime } from "../../../../connectors/sink-common/rows.js";
import type { RowOptions } from "../../../../connectors/sink-common/rows.js";
import { ATTRIBUTIONS, ATTRIBUTION_SEGMENTS, ATTRIBUTION_SPANS, columnNames } from "../../../../connectors/sink-common/tables.js";
import { SinkError } from "../../../../src/errors.js";
import { buildResult, makeResults } from "../../../conformance/attribution-fixtures.js";

const full: RowOptions = { storeText: "full", maxMatrixCells: 1_000_000, timePrecision: "ms" };

const sensitive = buildResult({
  id: "sens-1",
  system: "You are a support bot.",
  user: "Mail jane.doe@example.com the card 4242 4242 4242 4242 please",
  completion: "Done, mailed jane.doe@example.com now",
  weights: { system: 0.1, user: 0.9 },
  peaks: { user: 1 },
});

describe("toRows", () => {
  it("produces exactly the columns of each table", () => {
    const rows = toRows(makeResults(1, 3)[0]!, full);
    expect(Object.keys(rows.attribution).sort()).toEqual(columnNames(ATTRIBUTIONS).sort());
    for (const s of rows.spans) expect(Object.keys(s).sort()).toEqual(columnNames(ATTRIBUTION_SPANS).sort());
    for (const g of rows.segments) expect(Object.keys(g).sort()).toEqual(columnNames(ATTRIBUTION_SEGMENTS).sort());
  });

  it("keeps text, ids and token texts with store_text full", () => {
    const { attribution: a, spans } = toRows(sensitive, full);
    expect(a.prompt_text).toBe(sensitive.prompt.text);
    expect(a.completion_text).toBe(sensitive.completion.text);
    expect(a.prompt_token_ids).toEqual(sensitive.prompt.tokens.map((t) => t.id));
    expect(a.prompt_token_text).toEqual(sensitive.prompt.tokens.map((t) => t.text));
    expect(spans[0]!.text).toBe("jane.doe@example.com the");
    expect(spans[0]!.pii).toEqual(["email"]);
  });

  it("masks sensitive text with store_text redacted, keeping offsets valid", () => {
    const { attribution: a, spans } = toRows(sensitive, { ...full, storeText: "redacted" });
    expect(a.text_mode).toBe("redacted");
    expect(a.prompt_text).not.toContain("jane.doe");
    expect(a.prompt_text).not.toContain("4242");
    expect(a.prompt_text).toHaveLength(sensitive.prompt.text.length);
    expect(a.completion_text).toBe("Done, mailed ******************** now");
    expect(a.prompt_token_ids).toEqual([]);
    expect(a.completion_token_ids).toEqual([]);
    // Every token text is its slice of the stored (masked) prompt.
    sensitive.prompt.tokens.forEach((t, i) => {
      if (t.end > t.start) expect(a.prompt_token_text[i]).toBe(a.prompt_text!.slice(t.start, t.end));
    });
    expect(spans[0]!.text).toBe("******************** the");
    expect(spans[0]!.text).toBe(a.prompt_text!.slice(spans[0]!.char_start, spans[0]!.char_end));
    expect(spans[0]!.pii).toEqual(["email"]);
  });

  it("stores no text, ids or token texts with store_text none, but keeps offsets and pii kinds", () => {
    const { attribution: a, spans } = toRows(sensitive, { ...full, storeText: "none" });
    expect(a.prompt_text).toBeNull();
    expect(a.completion_text).toBeNull();
    expect(a.prompt_token_text).toEqual([]);
    expect(a.prompt_token_ids).toEqual([]);
    expect(a.completion_token_text).toEqual([]);
    expect(a.prompt_token_start).toHaveLength(sensitive.prompt.tokens.length);
    expect(spans.every((s) => s.text === null)).toBe(true);
    expect(spans[0]!.pii).toEqual(["email"]);
  });

  it("caps the per-target matrix at max_matrix_cells, keeping whole leading rows", () => {
    const r = makeResults(5, 11).find((x) => x.targets.length >= 3)!;
    const sizes = r.targets.map((t) => t.importance.length);
    const cap = (sizes[0] ?? 0) + (sizes[1] ?? 0) + 1;
    const { attribution: a } = toRows(r, { ...full, maxMatrixCells: cap });
    expect(a.matrix).toHaveLength(2);
    expect(a.matrix_rows_total).toBe(r.targets.length);
    expect(a.matrix[0]).toEqual(r.targets[0]!.importance.map(Math.fround));
    expect(toRows(r, { ...full, maxMatrixCells: 0 }).attribution.matrix).toEqual([]);
  });

  it("rounds Float32 columns with Math.fround and keeps Float64 columns exact", () => {
    const r = makeResults(1, 12)[0]!;
    const { attribution: a, segments } = toRows(r, full);
    expect(a.importance).toEqual(r.sequence.importance.map(Math.fround));
    expect(segments.map((s) => s.share)).toEqual(r.segments.map((s) => s.share));
  });

  it("uses the record time as event time, else created_at; truncates to the store's precision", () => {
    const r = buildResult({ id: "t1", system: "s", user: "u", completion: "c", record_timestamp: "2024-05-01T23:59:59.999Z", created_at: "2024-05-02T00:00:01.500Z" });
    expect(toRows(r, full).attribution).toMatchObject({ event_time: "2024-05-01T23:59:59.999Z", day: "2024-05-01", created_at: "2024-05-02T00:00:01.500Z" });
    expect(toRows(r, { ...full, timePrecision: "s" }).attribution).toMatchObject({ event_time: "2024-05-01T23:59:59.000Z", created_at: "2024-05-02T00:00:01.000Z" });
    const noRecord = buildResult({ id: "t2", system: "s", user: "u", completion: "c", record_timestamp: null, created_at: "2024-05-02T00:00:01.500Z" });
    expect(toRows(noRecord, full).attribution).toMatchObject({ record_time: null, event_time: "2024-05-02T00:00:01.500Z", day: "2024-05-02" });
    const badRecord = buildResult({ id: "t3", system: "s", user: "u", completion: "c", record_timestamp: "yesterday" });
    expect(toRows(badRecord, full).attribution.record_time).toBeNull();
  });

  it("refuses a result whose created_at is not a time (not retryable)", () => {
    const r = { ...buildResult({ id: "t4", system: "s", user: "u", completion: "c" }), created_at: "not a time" };
    let err: unknown;
    try {
      toRows(r, full);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(SinkError);
    expect((err as SinkError).retryable).toBe(false);
  });

  it("maps a missing tenant to '' and keeps faithfulness as sorted name/value arrays", () => {
    const r = buildResult({ id: "f1", tenant: null, system: "s", user: "u", completion: "c", faithfulness: { sufficiency: 0.5, comprehensiveness: 0.25 } });
    const a = toRows(r, full).attribution;
    expect(a.tenant_id).toBe("");
    expect(a.faithfulness_computed).toBe(1);
    expect(a.faithfulness_names).toEqual(["comprehensiveness", "sufficiency"]);
    expect(a.faithfulness_values).toEqual([0.25, 0.5]);
    const none = toRows(buildResult({ id: "f2", system: "s", user: "u", completion: "c", faithfulness: null }), full).attribution;
    expect(none.faithfulness_computed).toBe(0);
    expect(none.faithfulness_names).toEqual([]);
  });

  it("normalizeTime rejects out-of-range and unparsable times", () => {
    expect(normalizeTime("1969-12-31T23:59:59Z", "ms")).toBeUndefined();
    expect(normalizeTime("2200-01-01T00:00:00Z", "ms")).toBeUndefined();
    expect(normalizeTime("nope", "ms")).toBeUndefined();
    expect(normalizeTime("2024-05-01T10:00:00+02:00", "ms")).toBe("2024-05-01T08:00:00.000Z");
  });
});
