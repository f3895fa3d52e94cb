"""Runs the ClickHouse sink's DDL, rows and audit queries for a modern server on chDB (an
embedded ClickHouse) and compares the answers with DuckDB's. Not part of the test suite (it needs
`pip install chdb`); docs/sinks.md records its last result.

    node --import tsx bench/sink/modern-clickhouse-export.ts /tmp/modern-ch 24.3.2.23
    python3 bench/sink/modern-clickhouse-check.py /tmp/modern-ch
"""
import json
import math
import sys
import tempfile

import chdb
from chdb import session as chs

out = sys.argv[1]
sess = chs.Session(tempfile.mkdtemp(prefix="chdb-"))
print("chDB engine", sess.query("SELECT version()", "CSV").bytes().decode().strip())
for stmt in json.load(open(f"{out}/ddl.json")):
    sess.query(stmt)
print("DDL ok:", [l for l in sess.query("SHOW TABLES FROM audit", "CSV").bytes().decode().split()])

for table in ["attributions", "attribution_spans", "attribution_segments"]:
    data = open(f"{out}/{table}.ndjson").read()
    token = f"check-{table}"
    for attempt in range(2):  # the retry of a block with the same token must be dropped
        sess.query(f"INSERT INTO audit.{table} SETTINGS insert_deduplication_token = '{token}' FORMAT JSONEachRow " + data)
    raw = sess.query(f"SELECT count() FROM audit.{table}", "CSV").bytes().decode().strip()
    print(f"{table}: {raw} rows after inserting the same block twice with one insert_deduplication_token")

answers = json.load(open(f"{out}/duckdb-answers.json"))


def norm(v):
    if isinstance(v, float) and math.isnan(v):
        return None
    if isinstance(v, list):
        return [norm(x) for x in v]
    return v


def run(sql, params=None):
    res = sess.query(sql, "JSON", params=params).bytes().decode() if params else sess.query(sql, "JSON").bytes().decode()
    return json.loads(res)["data"] if res.strip() else []


bad = 0
for q in json.load(open(f"{out}/queries.json")):
    rows = run(q["sql"])
    native = run(q["native"], {k: str(v) for k, v in q["params"].items()})
    if native != rows:
        bad += 1
        print(f"{q['name']}: server-side parameters give other rows than literal binding")
    rows = [{k: norm(int(v) if isinstance(v, str) and v.isdigit() and k in ("attributions", "occurrences", "before_n", "after_n", "model_calls", "sequences_evaluated", "tokens_processed", "consumed", "sampled", "with_faithfulness") else v) for k, v in r.items()} for r in rows]
    expected = [{k: norm(v) for k, v in r.items()} for r in answers[q["name"]]]
    same = rows == expected
    bad += 0 if same else 1
    print(f"{q['name']}: {len(rows)} rows, {'same as DuckDB' if same else 'DIFFERENT from DuckDB'}")
    if not same:
        for a, b in zip(rows, expected):
            if a != b:
                print("  chdb  ", a)
                print("  duckdb", b)
                break
sys.exit(1 if bad else 0)
