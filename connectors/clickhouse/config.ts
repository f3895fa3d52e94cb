/**
 * Settings of the ClickHouse sink, as they appear under `sinks:` in the worker config
 * (`type: clickhouse`). docs/sinks.md shows an example.
 */
import { z } from "zod";
import { commonSinkFields } from "../sink-common/config.js";

const IDENT = /^[A-Za-z_][A-Za-z0-9_]*$/;

export const clickhouseSinkConfigSchema = z
  .object({
    type: z.literal("clickhouse"),
    url: z.string().url().default("http://127.0.0.1:8123").describe("HTTP(S) endpoint of the server"),
    database: z.string().regex(IDENT, "letters, digits and _ only").default("default").describe("Database that holds the tables"),
    create_database: z.boolean().default(true).describe("migrate() runs CREATE DATABASE IF NOT EXISTS first"),
    username: z.string().default("default").describe("User to log in as"),
    password_env: z
      .string()
      .regex(IDENT)
      .optional()
      .describe("Name of the environment variable holding the password (never the password itself)"),
    request_timeout_ms: z.number().int().min(100).default(30_000).describe("Per request; a timed-out insert is retried (and deduplicated)"),
    ttl_days: z
      .number()
      .int()
      .min(1)
      .max(3650, "at most 3650: event_time + ttl_days must stay within DateTime's range (2106)")
      .nullable()
      .default(null)
      .describe("Drop rows whose event_time is older than this (servers with TTL, 20.3+; set before the first migration)"),
    dedup_window: z
      .number()
      .int()
      .min(1)
      .default(1000)
      .describe("Inserted blocks each table remembers for insert_deduplication_token (servers 22.2+)"),
    ...commonSinkFields,
  })
  .strict();

export type ClickHouseSinkConfig = z.infer<typeof clickhouseSinkConfigSchema>;
export type ClickHouseSinkConfigInput = z.input<typeof clickhouseSinkConfigSchema>;
