"""Flink SQL of the counting steps, generated from the records and declarations in `detectors/`.

- `request_schema`: the parse stage's `RequestFacts` as a table, with event time and watermark.
- `minute_query`: the one-minute summaries of `detectors.features.minutes` (`AccountMinute`,
  `AddressMinute`), one aggregate per declared field, as tumbling windows.
- `limit_query`: the short-window rate-limit counts of `detectors.pipeline.short_window_rows`,
  as chained OVER windows; only requests over some limit leave it.

Every column is named after a record field or a window label; rows are read back by name
(`detectors.records.from_row`). Each query's result carries its key first and the record as
a nested row, the shape the keyed Python operators read without a key-extraction step.
"""

from __future__ import annotations

from pyflink.table import DataTypes, Schema, StreamTableEnvironment, Table

from detectors.features.minutes import SUMMARIES, Agg
from detectors.features.request import RequestFacts
from detectors.pipeline import Limits
from detectors.records import columns

_DATA_TYPES = {"BIGINT": DataTypes.BIGINT(), "DOUBLE": DataTypes.DOUBLE(), "BOOLEAN": DataTypes.BOOLEAN(),
               "STRING": DataTypes.STRING()}  # fmt: skip
_TUMBLE = "TABLE(TUMBLE(TABLE {}, DESCRIPTOR(rowtime), INTERVAL '1' MINUTES))"


def interval(ms: int) -> str:
    """A window length as a Flink SQL day-time interval literal.

    >>> interval(3_600_000), interval(90_061_500)
    ("INTERVAL '0 01:00:00.000' DAY TO SECOND(3)", "INTERVAL '1 01:01:01.500' DAY TO SECOND(3)")
    """
    days, rest = divmod(ms, 86_400_000)
    hours, rest = divmod(rest, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    seconds, millis = divmod(rest, 1000)
    return f"INTERVAL '{days} {hours:02d}:{minutes:02d}:{seconds:02d}.{millis:03d}' DAY TO SECOND(3)"


def request_schema(lag_ms: int) -> Schema:
    """`RequestFacts` columns, `rowtime` from `ts`, and a watermark `lag_ms` + 1 ms behind the latest `ts`
    (an event exactly `lag_ms` behind is still on time)."""
    builder = Schema.new_builder()
    for name, sql_type in columns(RequestFacts):
        builder = builder.column(name, _DATA_TYPES[sql_type])
    return (
        builder.column_by_expression("rowtime", "TO_TIMESTAMP_LTZ(ts, 3)")
        .watermark("rowtime", f"rowtime - {interval(lag_ms + 1)}")
        .build()
    )


def aggregate_sql(agg: Agg) -> str:
    """One declared aggregation as SQL over the `requests` columns.

    >>> aggregate_sql(Agg("count", None, ("view", "nav"))), aggregate_sql(Agg("distinct", "ip"))
    ('CAST(SUM(CASE WHEN `view` AND `nav` THEN 1 ELSE 0 END) AS BIGINT)', 'COUNT(DISTINCT `ip`)')
    """
    where = " AND ".join(f"`{w}`" for w in agg.where)
    if agg.kind == "count":
        return f"CAST(SUM(CASE WHEN {where} THEN 1 ELSE 0 END) AS BIGINT)" if where else "COUNT(*)"
    value = f"CASE WHEN {where} THEN `{agg.column}` END" if where else f"`{agg.column}`"
    if agg.kind == "distinct":
        return f"COUNT(DISTINCT {value})"
    return f"{agg.kind.upper()}({value})"


def minute_query(t_env: StreamTableEnvironment, requests: str, kind: str) -> Table:
    """The `kind` (account, ip or network) minute summaries of the registered view `requests`: columns `k`
    (the subject) and `v` (the record)."""
    record, aggs, key = SUMMARIES[kind]
    start = "MIN(ts) - MOD(MIN(ts), 60000)"  # every row of the window is in that minute
    fields = [f"`{key}`", start, *(aggregate_sql(a) for a in aggs.values())]
    where = f"`{key}` IS NOT NULL" + ("" if kind == "account" else " AND account IS NULL")
    return t_env.sql_query(
        f"SELECT `{key}` AS k, {_record(record, fields)} AS v "
        f"FROM {_TUMBLE.format(requests)} WHERE {where} GROUP BY `{key}`, window_start, window_end"
    )


def limit_query(t_env: StreamTableEnvironment, requests: str, limits: Limits) -> Table:
    """Counted requests of one subject type over some short-window limit: columns `k` (the subject) and `v`
    (subject, ts, created_at, first_view and `views_<label>` per window)."""
    key = "account" if limits.subject_type == "account" else "ip"
    counted = "`view` AND account IS NOT NULL" if key == "account" else "`view` AND account IS NULL AND ip IS NOT NULL"
    over = "OVER (PARTITION BY subject ORDER BY rowtime RANGE BETWEEN {} PRECEDING AND CURRENT ROW)"
    seen = f"(SELECT `{key}` AS subject, ts, rowtime, created_at FROM {requests} WHERE {counted})"
    previous = (
        f"(SELECT subject, ts, rowtime, MIN(created_at) {over.format('UNBOUNDED')} AS created_at, "
        f"MIN(ts) {over.format('UNBOUNDED')} AS first_view FROM {seen})"
    )
    names = []
    for label, ms in limits.windows.items():
        name = f"views_{label}"
        keep = ", ".join(["subject", "ts", "rowtime", "created_at", "first_view", *names])
        previous = f"(SELECT {keep}, COUNT(*) {over.format(interval(ms))} AS `{name}` FROM {previous})"
        previous = f"(SELECT * FROM {previous} WHERE `{name}` > 0)"  # always true; keeps the planner from merging
        names.append(name)  # OVER windows (with four or more it fails on duplicate field names)
    over_limit = " OR ".join(f"`views_{label}` > {n}" for label, n in limits.thresholds.items())
    fields = ["subject", "ts", "created_at", "first_view", *(f"`{n}`" for n in names)]
    row_type = ", ".join(
        ["subject STRING", "ts BIGINT", "created_at BIGINT", "first_view BIGINT", *(f"`{n}` BIGINT" for n in names)]
    )
    return t_env.sql_query(
        f"SELECT subject AS k, CAST(ROW({', '.join(fields)}) AS ROW<{row_type}>) AS v FROM {previous} "
        f"WHERE {over_limit}"
    )


def _record(record: type, values: list[str]) -> str:
    """A nested row of `record`'s fields from SQL expressions, one per field in order."""
    row_type = ", ".join(f"`{name}` {sql_type}" for name, sql_type in columns(record))
    return f"CAST(ROW({', '.join(values)}) AS ROW<{row_type}>)"
