/**
 * Which ClickHouse failures are worth retrying.
 *
 * Transport failures (refused or reset connections, timeouts, a server that went away mid
 * request) and the server's own "try again later" codes are retryable. Every other server error
 * (syntax, unknown table or column, a value the column type cannot hold) will fail the same way
 * on every retry, so the batch fails at once and the pipeline dead-letters or stops.
 */
import { ClickHouseError } from "@clickhouse/client";
import type { ErrorClass } from "../sink-common/batch-writer.js";

/** Server error codes that a retry can get past (names as in ClickHouse's ErrorCodes.cpp). */
export const RETRYABLE_CLICKHOUSE_CODES: ReadonlySet<string> = new Set([
  "3", // UNEXPECTED_END_OF_FILE: the request body was cut off
  "32", // ATTEMPT_TO_READ_AFTER_EOF
  "159", // TIMEOUT_EXCEEDED
  "164", // READONLY (a replica in read-only mode, e.g. during a restart)
  "202", // TOO_MANY_SIMULTANEOUS_QUERIES
  "203", // NO_FREE_CONNECTION
  "209", // SOCKET_TIMEOUT
  "210", // NETWORK_ERROR
  "236", // ABORTED
  "241", // MEMORY_LIMIT_EXCEEDED
  "242", // TABLE_IS_READ_ONLY
  "252", // TOO_MANY_PARTS
  "285", // TOO_FEW_LIVE_REPLICAS
  "319", // UNKNOWN_STATUS_OF_INSERT
  "394", // QUERY_WAS_CANCELLED
  "425", // SYSTEM_ERROR
  "439", // CANNOT_SCHEDULE_TASK
  "999", // KEEPER_EXCEPTION
  "1000", // POCO_EXCEPTION (network and I/O inside the server)
]);

export function classifyClickHouseError(err: unknown): ErrorClass {
  if (err instanceof ClickHouseError) return { retryable: RETRYABLE_CLICKHOUSE_CODES.has(err.code) };
  // Anything that is not a parsed server error is the transport: connection refused or reset,
  // socket hang up, the client's request timeout, a non-ClickHouse answer from a proxy.
  return { retryable: true };
}
