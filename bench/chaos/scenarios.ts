/**
 * The fault scenarios. Each produces numbered messages, runs real workers, injects its fault,
 * waits until the group has committed every message, stops the workers with SIGTERM (timing the
 * exit) and counts. Outages of the broker and of ClickHouse use private servers on free ports.
 */
import type { ChildProcess } from "node:child_process";
import { PrivateClickHouse, PrivateKafka, privateServicesConfig } from "../../test/integration/fixtures/private-services.js";
import { Scenario, serveModel, sleep, type Count, type Services } from "./harness.js";

export interface Result {
  readonly scenario: string;
  readonly faults: number;
  readonly count: Count;
  /** Per fault: from the end of the fault (worker restarted, server back) to the next commit. */
  readonly recoveryMs: number[];
  /** From SIGTERM, sent once every message was committed, to the slowest worker's exit. */
  readonly sigtermExitMs: number;
  readonly wallMs: number;
  readonly notes: string[];
}

export interface Size {
  /** Messages produced (more are produced while faults remain to inject and all are committed). */
  readonly records: number;
  readonly partitions: number;
  readonly rate: number;
  readonly kills: number;
  /** How long a server or endpoint stays down. */
  readonly outageMs: number;
  readonly seed: number;
}

/** Deterministic pseudo-random numbers (mulberry32), so a run can be repeated. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type Body = (s: Scenario, size: Size, out: { recoveryMs: number[]; notes: string[]; faults: number; storedFrom?: number }) => Promise<void>;

async function runScenario(name: string, services: Services, dir: string, size: Size, extra: Partial<ConstructorParameters<typeof Scenario>[2]>, body: Body): Promise<Result> {
  const t0 = Date.now();
  const s = new Scenario(services, dir, { records: size.records, partitions: size.partitions, rate: size.rate, ...extra });
  const out: Parameters<Body>[2] = { recoveryMs: [], notes: [], faults: 0 };
  try {
    await s.setup();
    await body(s, size, out);
    await s.allCommitted(600_000);
    const sigtermExitMs = await s.stopAll();
    const count = await s.count(out.storedFrom);
    if (out.storedFrom !== undefined) out.notes.push(`${count.storedFrom} of ${count.sampledFrom} sampled records produced after the recovery stored`);
    return { scenario: name, faults: out.faults, count, recoveryMs: out.recoveryMs, sigtermExitMs, wallMs: Date.now() - t0, notes: out.notes };
  } finally {
    await s.teardown();
  }
}

/**
 * SIGKILL the worker at random moments (0.5–4 s after it has committed again), restarting it each time,
 * while messages keep arriving (100 a second), so that every kill lands on work in flight.
 */
export function sigkill(services: Services, dir: string, size: Size): Promise<Result> {
  return runScenario("sigkill", services, dir, size, { oversize: [size.records >> 1] }, async (s, z, out) => {
    const random = rng(z.seed);
    await s.produce(0, z.records);
    let w = s.startWorker("w0");
    await s.progressAfter(0, 180_000);
    let producing = true;
    const stream = (async () => {
      while (producing) {
        await s.produce(s.produced, s.produced + 25);
        await sleep(250);
      }
    })();
    try {
      for (let k = 1; k <= z.kills; k++) {
        await sleep(500 + random() * 3500);
        await s.kill(w);
        out.faults++;
        const before = await s.committed();
        w = s.startWorker(`w${k}`);
        out.recoveryMs.push(await s.progressAfter(before, 180_000));
      }
    } finally {
      producing = false;
      await stream;
    }
  });
}

/** Malformed records (2 %, in every scenario) plus oversize records the 1 MB DLQ topic cannot take, one worker. */
export function badInput(services: Services, dir: string, size: Size): Promise<Result> {
  const oversize = [3, size.records >> 1, size.records - 2];
  return runScenario("oversize+malformed", services, dir, size, { oversize }, async (s, z, out) => {
    await s.produce(0, z.records);
    s.startWorker("w0");
    out.faults = oversize.length;
    out.notes.push(`${oversize.length} records of 1.5 MB dead-lettered to a topic with max.message.bytes 1 MB`);
  });
}

/** Consumer-group scale-out: 1 worker, then 3, then one of them SIGKILLed (not restarted). */
export function scaleOut(services: Services, dir: string, size: Size): Promise<Result> {
  return runScenario("scale-out", services, dir, size, {}, async (s, z, out) => {
    await s.produce(0, z.records);
    s.startWorker("a");
    await s.progressAfter(0, 180_000);
    let before = await s.committed();
    s.startWorker("b");
    s.startWorker("c");
    out.faults += 2;
    out.recoveryMs.push(await s.progressAfter(before, 180_000));
    await sleep(3000);
    if ((await s.committed()) >= s.produced - 20) await s.produce(s.produced, s.produced + (z.records >> 1));
    const b = s.workers.find((w) => w.name === "b")!;
    await s.kill(b);
    out.faults++;
    before = await s.committed();
    out.recoveryMs.push(await s.progressAfter(before, 180_000));
    out.notes.push("1 → 3 workers, then 1 of 3 SIGKILLed and not restarted");
  });
}

/** The broker (a private one) stops for outageMs under a running worker, then starts again on the same data. */
export async function brokerOutage(dir: string, clickhouseUrl: string, size: Size): Promise<Result> {
  const { cfg } = await privateServicesConfig("chaos-kafka");
  const broker = await PrivateKafka.create(cfg);
  await broker.start();
  try {
    return await runScenario("broker outage", { brokers: broker.brokers, clickhouseUrl }, dir, size, {}, async (s, z, out) => {
      await s.produce(0, z.records >> 1);
      s.startWorker("w0");
      await s.progressAfter(0, 180_000);
      await broker.stop("SIGTERM");
      out.faults++;
      await sleep(z.outageMs);
      await broker.start();
      const before = await committedWhenBack(s);
      await s.produce(z.records >> 1, z.records);
      out.recoveryMs.push(await s.progressAfter(before, 300_000));
      out.notes.push(`broker down ${(z.outageMs / 1000).toFixed(0)} s (clean stop, restart on the same data)`);
    });
  } finally {
    await broker.stop("SIGTERM");
  }
}

/** ClickHouse (a private one) is SIGKILLed for outageMs under a running worker, then started again. */
export async function clickhouseOutage(dir: string, brokers: string[], size: Size): Promise<Result> {
  const { cfg } = await privateServicesConfig("chaos-clickhouse");
  const ch = await PrivateClickHouse.create(cfg);
  await ch.start();
  try {
    return await runScenario("ClickHouse outage", { brokers, clickhouseUrl: ch.url }, dir, size, {}, async (s, z, out) => {
      await s.produce(0, z.records >> 1);
      s.startWorker("w0");
      await s.progressAfter(0, 180_000);
      await ch.stop("SIGKILL");
      out.faults++;
      await s.produce(z.records >> 1, z.records);
      await sleep(z.outageMs);
      const before = await s.committed();
      await ch.start();
      out.recoveryMs.push(await s.progressAfter(before, 300_000));
      out.notes.push(`ClickHouse SIGKILLed, down ${(z.outageMs / 1000).toFixed(0)} s, restarted on the same data`);
    });
  } finally {
    await ch.stop("SIGTERM");
  }
}

/**
 * The scoring endpoint (serve-model over HTTP, toy model) is SIGKILLed for outageMs, then served again on
 * the same port (recovery: until the first new attribution is stored). The worker runs endpoint_unavailable.action=dead_letter, so records the sampler skips keep
 * committing during the outage (checked: the committed offsets must advance while it is down).
 */
export function endpointOutage(services: Services, dir: string, size: Size): Promise<Result> {
  let server: { proc: ChildProcess; url: string } | undefined;
  const stopServer = async (): Promise<void> => {
    const p = server?.proc;
    if (p === undefined || p.exitCode !== null || p.signalCode !== null) return;
    const exited = new Promise((r) => p.once("exit", r));
    p.kill("SIGKILL");
    await exited;
  };
  const run = async (): Promise<Result> => {
    server = await serveModel(dir);
    const port = Number(new URL(server.url).port);
    return runScenario("endpoint outage", services, dir, size, { scorerUrl: server.url, endpointAction: "dead_letter" }, async (s, z, out) => {
      await s.produce(0, z.records >> 1);
      s.startWorker("w0");
      await s.progressAfter(0, 180_000);
      await stopServer();
      out.faults++;
      const atKill = await s.committed();
      await s.produce(z.records >> 1, z.records);
      await sleep(z.outageMs);
      const duringOutage = (await s.committed()) - atKill;
      out.notes.push(`endpoint down ${(z.outageMs / 1000).toFixed(0)} s; ${duringOutage} offsets committed while it was down`);
      if (duringOutage <= 0) throw new Error("nothing was committed while the endpoint was down (skipped records must keep committing)");
      server = await serveModel(dir, port);
      // Recovery: from the endpoint answering again to the first new attribution stored, under a steady stream.
      const back = Date.now();
      const rows = await s.storedRows();
      let producing = true;
      const stream = (async () => {
        while (producing) {
          await s.produce(s.produced, s.produced + 25);
          await sleep(250);
        }
      })();
      try {
        await s.until("an attribution is stored after the endpoint is back", 120_000, async () => (await s.storedRows()) > rows);
        out.recoveryMs.push(Date.now() - back);
      } finally {
        producing = false;
        await stream;
      }
      // The rest arrives as a steady stream too (a burst would all land inside one breaker cool-down).
      out.storedFrom = s.produced;
      const end = s.produced + (z.records >> 1);
      while (s.produced < end) {
        await s.produce(s.produced, Math.min(end, s.produced + 25));
        await sleep(250);
      }
    });
  };
  return run().finally(stopServer);
}

/** The broker can be gone for a moment after its restart: read the committed sum once it answers. */
async function committedWhenBack(s: Scenario): Promise<number> {
  for (;;) {
    const n = await s.committed().catch(() => undefined);
    if (n !== undefined) return n;
    await sleep(500);
  }
}

export function summaryLine(r: Result): string {
  const c = r.count;
  const rec = r.recoveryMs.length === 0 ? "-" : `max ${(Math.max(...r.recoveryMs) / 1000).toFixed(1)} s, median ${(median(r.recoveryMs) / 1000).toFixed(1)} s`;
  return [
    `${r.scenario}: faults ${r.faults}`,
    `produced ${c.produced}`,
    `stored ${c.stored}/${c.expectedStored} sampled`,
    `skipped ${c.skipped}`,
    `dead-lettered ${c.deadLettered} (${Object.entries(c.deadLetterCodes).map(([k, n]) => `${k} ${n}`).join(", ")}; spilled ${c.spilled}; sampled ${c.sampledDeadLettered})`,
    `lost ${c.lost}`,
    `duplicated ${c.duplicated} (redelivered rows before dedup ${c.redelivered})`,
    `recovery ${rec}`,
    `SIGTERM→exit ${(r.sigtermExitMs / 1000).toFixed(2)} s`,
    `wall ${(r.wallMs / 1000).toFixed(0)} s`,
  ].join(" | ") + (r.notes.length > 0 ? `\n    ${r.notes.join("; ")}` : "") + (c.lostNumbers.length > 0 ? `\n    lost numbers: ${c.lostNumbers.join(", ")}` : "");
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? 0;
}
