"""Flink SQL of the counting steps, generated from the records and declarations in `detectors/`.

- `parsed_schema`, `accepted`, `rejected`: the parse UDF's output as a table with event time and the
  watermark of its input's clock, split into `RequestFacts` rows and dead letters.
- `minute_query`: the one-minute summaries of `detectors.features.minutes` (`AccountMinute`,
  `AddressMinute`), one aggregate per declared field, as tumbling windows.
- `limit_query`: the short-window rate-limit counts of `detectors.pipeline.short_window_rows`,
  as chained OVER windows; only requests over some limit leave it, straight to the scorer.

Every column is named after a record field or a window label; rows are read back by name
(`detectors.records.from_row`). Each query's result carries its key first and the record as
a nested row, the shape the keyed Python operators read without a key-extraction step.
"""

from __future__ import annotations

from pyflink.table import Schema, StreamTableEnvironment, Table

from detectors.features.minutes import PATH, SUMMARIES, Agg
from detectors.features.request import RequestFacts
from detectors.pipeline import COUNTED, Limits
from detectors.records import columns
from jobs.parse import PARSED

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


def parsed_schema(lag_ms: int) -> Schema:
    """The parse UDF's output (one `r` column) with `rowtime` from the event time and a watermark `lag_ms` + 1 ms
    behind the input's clock (an event exactly `lag_ms` behind it is still on time)."""
    return (
        Schema.new_builder()
        .column("r", PARSED)
        .column_by_expression("rowtime", "TO_TIMESTAMP_LTZ(COALESCE(r.ts, 0), 3)")
        .watermark("rowtime", f"TO_TIMESTAMP_LTZ(COALESCE(r.clock, 0), 3) - {interval(lag_ms + 1)}")
        .build()
    )


def accepted(parsed: str) -> str:
    """The `RequestFacts` rows (and rowtime) of the registered parse output `parsed`."""
    fields = ", ".join(f"r.`{name}` AS `{name}`" for name, _ in columns(RequestFacts))
    return f"SELECT {fields}, rowtime FROM {parsed} WHERE r.ts IS NOT NULL"


def rejected(parsed: str) -> str:
    """The dead-letter records of the registered parse output `parsed`, as decision-shaped rows with key ''."""
    return f"SELECT '' AS k, r.dead AS v, CAST(0 AS BIGINT) AS ts FROM {parsed} WHERE r.dead IS NOT NULL"


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
    """The `kind` (account, ip, network or path) minute summaries of the registered view `requests`: columns `k`
    (the subject) and `v` (the record)."""
    record, aggs, key = SUMMARIES[kind]
    start = "MIN(ts) - MOD(MIN(ts), 60000)"  # every row of the window is in that minute
    subject = f"'{PATH}'" if key is None else f"`{key}`"  # the path: one subject, every logged-out request
    fields = [subject, start, *(aggregate_sql(a) for a in aggs.values())]
    where = [] if key is None else [f"{subject} IS NOT NULL"]
    where += [] if kind == "account" else ["account IS NULL"]
    where += ["NOT `declared`"] if key is None else []
    group = ([] if key is None else [subject]) + ["window_start", "window_end"]
    return t_env.sql_query(
        f"SELECT {subject} AS k, {_record(record, fields)} AS v "
        f"FROM {_TUMBLE.format(requests)} WHERE {' AND '.join(where)} GROUP BY {', '.join(group)}"
    )


def limit_query(t_env: StreamTableEnvironment, requests: str, limits: Limits) -> Table:
    """Counted requests of one subject type over some short-window limit, as rows for the scorer: columns `k`
    (`subject_type:subject`) and `v`, an `ITEM` of `jobs.operators` whose record is the JSON array that
    `Limits.counted_row` reads (the subject type, `COUNTED`, then `views_<label>` per window, as
    `Limits.crossed` reports them).

    One OVER window per subject type: a request is more than `n` into a window of `w` ms when the
    request `n` before it (`LAG(ts, n)`) is at most `w` ms older. All requests at one event time see
    each other, as in the reference.
    """
    key = "account" if limits.subject_type == "account" else "ip"
    counted = "`view` AND account IS NOT NULL" if key == "account" else "`view` AND account IS NULL AND ip IS NOT NULL"
    lags = [(label, ms, n) for label, ms in limits.windows.items() for n in limits.levels[label]]
    over = ", ".join(f"LAG(ts, {n}) OVER w AS `lag_{label}_{n}`" for label, _, n in lags)
    counts = ", ".join(
        "CASE "
        + " ".join(f"WHEN `lag_{lab}_{n}` >= ts - {ms} THEN {n + 1}" for lab, ms, n in reversed(lags) if lab == label)
        + f" ELSE 0 END AS `views_{label}`"
        for label in limits.windows
    )
    crossed = " OR ".join(f"`lag_{label}_{n}` >= ts - {ms}" for label, ms, n in lags)
    seen = (
        f"SELECT `{key}` AS subject, ts, MIN(created_at) OVER w AS created_at, MIN(ts) OVER w AS first_view, {over} "
        f"FROM {requests} WHERE {counted} WINDOW w AS (PARTITION BY `{key}` ORDER BY rowtime)"
    )
    values = ", ".join([*COUNTED, *(f"`views_{label}`" for label in limits.windows)])
    subject_type = limits.subject_type
    return t_env.sql_query(
        f"SELECT CONCAT('{subject_type}:', subject) AS k, CAST(ROW(ts, CAST(NULL AS BYTES), "
        f"JSON_ARRAY('{subject_type}', {values} NULL ON NULL)) AS ROW<rowtime BIGINT, payload BYTES, counted STRING>) "
        f"AS v FROM (SELECT subject, ts, created_at, first_view, {counts} FROM ({seen}) WHERE {crossed})"
    )


def _record(record: type, values: list[str]) -> str:
    """A nested row of `record`'s fields from SQL expressions, one per field in order."""
    row_type = ", ".join(f"`{name}` {sql_type}" for name, sql_type in columns(record))
    return f"CAST(ROW({', '.join(values)}) AS ROW<{row_type}>)"
