/**
 * What a ClickHouse server can do, from `SELECT version()`.
 *
 * The thresholds are the versions from which this project relies on a feature, not always the
 * first release that had it: several features existed earlier behind `allow_experimental_*`
 * settings (LowCardinality in 18.x, data-skipping indexes in 19.x), which we do not turn on.
 * 20.3 is the first LTS release where all of them are stable. Debian's 18.16 (the test server)
 * has none of them; docs/sinks.md lists what each path does.
 */

export interface ClickHouseVersion {
  readonly major: number;
  readonly minor: number;
  readonly text: string;
}

export interface ClickHouseFeatures {
  readonly version: ClickHouseVersion;
  /** `LowCardinality(String)` for model, tenant, method, … */
  readonly lowCardinality: boolean;
  /** `CODEC(ZSTD(n))` on long text and large arrays. */
  readonly codecs: boolean;
  /** `INDEX … TYPE bloom_filter` skip indexes on ids. */
  readonly skipIndexes: boolean;
  /** Table `TTL` (used when `ttl_days` is set) with `ttl_only_drop_parts`. */
  readonly ttl: boolean;
  /** `DateTime64(3)`: millisecond timestamps; else `DateTime` (seconds). */
  readonly dateTime64: boolean;
  /** Server-side query parameters `{name:Type}` (`param_name` over HTTP). */
  readonly queryParams: boolean;
  /** `insert_deduplication_token` with `non_replicated_deduplication_window` on plain MergeTree tables. */
  readonly dedupToken: boolean;
}

export const FEATURE_MIN_VERSIONS: Readonly<Record<Exclude<keyof ClickHouseFeatures, "version">, readonly [number, number]>> = {
  queryParams: [19, 11],
  lowCardinality: [20, 3],
  codecs: [20, 3],
  skipIndexes: [20, 3],
  ttl: [20, 3],
  dateTime64: [20, 3],
  dedupToken: [22, 2],
};

export function parseClickHouseVersion(text: string): ClickHouseVersion {
  const m = /^(\d+)\.(\d+)/.exec(text.trim());
  if (m === null) throw new RangeError(`"${text}" is not a ClickHouse version (expected e.g. 18.16.1 or 24.3.2.23)`);
  return { major: Number(m[1]), minor: Number(m[2]), text: text.trim() };
}

const atLeast = (v: ClickHouseVersion, [major, minor]: readonly [number, number]): boolean =>
  v.major > major || (v.major === major && v.minor >= minor);

export function featuresFor(versionText: string): ClickHouseFeatures {
  const version = parseClickHouseVersion(versionText);
  const f = (k: keyof typeof FEATURE_MIN_VERSIONS): boolean => atLeast(version, FEATURE_MIN_VERSIONS[k]);
  return {
    version,
    lowCardinality: f("lowCardinality"),
    codecs: f("codecs"),
    skipIndexes: f("skipIndexes"),
    ttl: f("ttl"),
    dateTime64: f("dateTime64"),
    queryParams: f("queryParams"),
    dedupToken: f("dedupToken"),
  };
}
