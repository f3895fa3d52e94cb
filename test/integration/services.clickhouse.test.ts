/**
 * Smoke test of the real ClickHouse test server with @clickhouse/client: a partitioned
 * MergeTree table, 10k rows in as JSONEachRow, the same 10k rows back.
 */
import type { ClickHouseClient } from "@clickhouse/client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase, dropTestDatabase, testClickHouse } from "./services.js";

const N = 10_000;

interface Row {
  id: number;
  day: string;
  key: string;
  score: number;
  weights: number[];
  tags: string[];
}

function makeRow(i: number): Row {
  const month = (i % 3) + 1;
  return {
    id: i,
    day: `2024-0${month}-${String((i % 28) + 1).padStart(2, "0")}`,
    // Quotes, backslashes, tabs, newlines and non-ASCII text must survive the round trip.
    key: `key-${i} "q" \\ \t ünïcødé ${i % 7 === 0 ? "\n" : ""}✓`,
    // Values exact in binary, so equality is exact after Float64/Float32 round trips.
    score: i / 4,
    weights: [i / 8, -(i + 1) / 16, 0.5],
    tags: i % 2 === 0 ? ["even"] : ["odd", `m${month}`],
  };
}

describe("ClickHouse test service", () => {
  let client: ClickHouseClient;
  let db = "";

  beforeAll(async () => {
    client = testClickHouse();
    db = await createTestDatabase(client, "smoke");
  });

  afterAll(async () => {
    if (db !== "") await dropTestDatabase(client, db).catch(() => undefined);
    await client.close();
  });

  it("answers SELECT 1 and reports its version", async () => {
    const rs = await client.query({ query: "SELECT 1 AS one, version() AS version", format: "JSONEachRow" });
    const [row] = await rs.json<{ one: number; version: string }>();
    expect(row?.one).toBe(1);
    expect(row?.version).toMatch(/^\d+\.\d+/);
  });

  it("writes 10k rows into a partitioned MergeTree table and reads the same rows back", async () => {
    await client.command({
      query: `CREATE TABLE ${db}.events (
        id UInt32,
        day Date,
        key String,
        score Float64,
        weights Array(Float32),
        tags Array(String)
      ) ENGINE = MergeTree() PARTITION BY toYYYYMM(day) ORDER BY (id)`,
    });
    const rows = Array.from({ length: N }, (_, i) => makeRow(i));
    await client.insert({ table: `${db}.events`, values: rows, format: "JSONEachRow" });

    const rs = await client.query({ query: `SELECT id, day, key, score, weights, tags FROM ${db}.events ORDER BY id`, format: "JSONEachRow" });
    const back = await rs.json<Row>();
    expect(back).toHaveLength(N);
    expect(back).toEqual(rows);

    // PARTITION BY toYYYYMM(day) made one partition per month.
    const parts = await client.query({
      query: `SELECT partition, sum(rows) AS rows FROM system.parts WHERE database = '${db}' AND table = 'events' AND active GROUP BY partition ORDER BY partition`,
      format: "JSONEachRow",
    });
    const byPartition = await parts.json<{ partition: string; rows: string | number }>();
    expect(byPartition.map((p) => p.partition)).toEqual(["202401", "202402", "202403"]);
    expect(byPartition.reduce((s, p) => s + Number(p.rows), 0)).toBe(N);
  });
});
