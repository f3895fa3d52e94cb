/**
 * What integration tests need from the real services: endpoints, clients with quiet logs,
 * and uniquely named topics and databases (so tests never see each other's data, and a
 * developer's long-running services can be reused run after run).
 */
import { createClient } from "@clickhouse/client";
import type { ClickHouseClient, ClickHouseClientConfigOptions } from "@clickhouse/client";
import { Kafka, logLevel } from "kafkajs";
import type { Admin, KafkaConfig } from "kafkajs";
import { inject } from "vitest";
import { serviceEndpoints } from "../../deploy/services/index.js";
import type { ServiceEndpoints } from "../../deploy/services/index.js";

declare module "vitest" {
  export interface ProvidedContext {
    reagentServices: ServiceEndpoints;
  }
}

/** Endpoints provided by global-setup.ts; else the env it exports; else the configured defaults. */
export function testEndpoints(): ServiceEndpoints {
  let provided: ServiceEndpoints | undefined;
  try {
    provided = inject("reagentServices");
  } catch {
    provided = undefined;
  }
  if (provided !== undefined) return provided;
  const brokers = process.env.REAGENT_TEST_KAFKA_BROKERS;
  const url = process.env.REAGENT_TEST_CLICKHOUSE_URL;
  if (brokers !== undefined && url !== undefined) return { kafkaBrokers: brokers.split(","), clickhouseUrl: url };
  return serviceEndpoints();
}

let counter = 0;

/** A name unique to this run and call: lowercase letters, digits and '_' (valid as a topic, group and database name). */
export function uniqueName(prefix: string): string {
  counter += 1;
  const clean = prefix.toLowerCase().replace(/[^a-z0-9_]/g, "_");
  const rand = Math.floor(Math.random() * 36 ** 4).toString(36).padStart(4, "0");
  return `${clean}_${Date.now().toString(36)}_${process.pid}_${counter}_${rand}`;
}

const KAFKA_LOG_LEVELS: Record<string, logLevel> = {
  nothing: logLevel.NOTHING,
  error: logLevel.ERROR,
  warn: logLevel.WARN,
  info: logLevel.INFO,
  debug: logLevel.DEBUG,
};

/**
 * A kafkajs client for the test broker. Silent by default: kafkajs logs retried, expected
 * conditions (a group coordinator still loading) as errors. REAGENT_TEST_KAFKA_LOG=error|warn|info|debug
 * turns its logs on.
 */
export function testKafka(clientId = "reagent-test", overrides: Partial<KafkaConfig> = {}): Kafka {
  return new Kafka({
    clientId,
    brokers: testEndpoints().kafkaBrokers,
    logLevel: KAFKA_LOG_LEVELS[(process.env.REAGENT_TEST_KAFKA_LOG ?? "nothing").toLowerCase()] ?? logLevel.NOTHING,
    connectionTimeout: 5000,
    requestTimeout: 30_000,
    ...overrides,
  });
}

/** Creates a new topic (waiting for its leaders) and returns its name. */
export async function createTestTopic(admin: Admin, opts: { prefix?: string; partitions?: number } = {}): Promise<string> {
  const topic = uniqueName(opts.prefix ?? "test_topic");
  const created = await admin.createTopics({
    topics: [{ topic, numPartitions: opts.partitions ?? 1, replicationFactor: 1 }],
    waitForLeaders: true,
    timeout: 30_000,
  });
  if (!created) throw new Error(`topic ${topic} already existed`);
  return topic;
}

/** A @clickhouse/client for the test server (default user, no password). */
export function testClickHouse(overrides: ClickHouseClientConfigOptions = {}): ClickHouseClient {
  return createClient({ url: testEndpoints().clickhouseUrl, request_timeout: 60_000, ...overrides });
}

/** Creates a new database and returns its name. */
export async function createTestDatabase(client: ClickHouseClient, prefix = "test_db"): Promise<string> {
  const db = uniqueName(prefix);
  await client.command({ query: `CREATE DATABASE ${db}` });
  return db;
}

export async function dropTestDatabase(client: ClickHouseClient, db: string): Promise<void> {
  await client.command({ query: `DROP DATABASE IF EXISTS ${db}` });
}
