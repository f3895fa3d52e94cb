/**
 * The bounded fault suite (bench/chaos, issue 16): a short version of the standing scenarios with real
 * worker processes, the shared broker and ClickHouse (own topics and database). Every numbered message
 * must be stored once (after the store's dedup), skipped, or dead-lettered; none lost, none duplicated;
 * every worker exits within 2 s of SIGTERM once nothing is in flight. The ClickHouse outage uses a private
 * server on free ports (the shared one is never stopped); the broker outage is left to the full run
 * (and shutdown.test.ts), as a second broker's start-up costs ~30 s. The full run is in docs/reliability.md.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { badInput, clickhouseOutage, endpointOutage, scaleOut, sigkill, summaryLine, type Result, type Size } from "../../bench/chaos/scenarios.js";
import { testEndpoints } from "./services.js";

const size: Size = { records: 400, partitions: 4, rate: 0.2, kills: 4, outageMs: 5000, seed: 16 };
const dir = mkdtempSync(join(tmpdir(), "reagent-chaos-ci-"));

function expectClean(r: Result): void {
  console.log(`[chaos] ${summaryLine(r)}`);
  expect(r.count.lost).toBe(0);
  expect(r.count.duplicated).toBe(0);
  expect(r.count.stored).toBe(r.count.expectedStored);
  expect(r.count.stored + r.count.skipped + r.count.deadLettered).toBe(r.count.produced);
  expect(r.sigtermExitMs).toBeLessThanOrEqual(2000);
}

describe("fault suite (bounded)", () => {
  const services = { brokers: testEndpoints().kafkaBrokers, clickhouseUrl: testEndpoints().clickhouseUrl };
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("SIGKILL at random moments under a steady stream, restarted each time: 0 lost, 0 duplicated", async () => {
    const r = await sigkill(services, dir, size);
    expect(r.faults).toBe(size.kills);
    expectClean(r);
  });

  it("oversize records on a 1 MB DLQ topic and malformed records: spilled and dead-lettered, never blocking", async () => {
    const r = await badInput(services, dir, size);
    expect(r.count.spilled).toBeGreaterThanOrEqual(3);
    expect(r.count.deadLettered).toBe(Math.floor(size.records / 50) + 3);
    expectClean(r);
  });

  it("consumer-group scale-out 1 → 3 workers, one SIGKILLed: 0 lost, 0 duplicated", async () => {
    expectClean(await scaleOut(services, dir, size));
  });

  it("endpoint outage (serve-model SIGKILLed, then back): skipped records keep committing, 0 lost, 0 duplicated", async () => {
    const r = await endpointOutage(services, dir, size);
    expectClean({ ...r, count: { ...r.count, expectedStored: r.count.stored } });
    expect(r.count.stored + r.count.sampledDeadLettered).toBe(r.count.expectedStored);
    expect(r.count.deadLetterCodes.endpoint_unavailable).toBeGreaterThan(0);
    expect(r.count.storedFrom).toBeGreaterThan(0);
  });

  it("ClickHouse outage (private server SIGKILLed, then restarted): 0 lost, 0 duplicated", async () => {
    expectClean(await clickhouseOutage(dir, services.brokers, size));
  });
});
