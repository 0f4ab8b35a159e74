"""Flink SQL for the windowed features of `detectors/features/profile_views.py`.

Per subject type, a chain of OVER windows (one per trailing window the rules read,
and first-seen time for accounts) runs in the JVM in event-time order; only rows
where some count passes the lowest limit on it (candidates) leave the query.
"""

from __future__ import annotations

from pyflink.common import Types
from pyflink.table import Schema, StreamTableEnvironment, Table

from detectors.engine import SubjectDetector
from detectors.features.minutes import YOUNG_MS

REQUEST_FIELDS = [
    "ts", "created_at", "account", "account_counted", "ip", "ip_counted",
    "network", "target", "not_found", "asset", "nav", "noref", "scripted", "browser", "crawler_ua", "user_agent",
]  # fmt: skip
_B, _L, _S = Types.BOOLEAN(), Types.LONG(), Types.STRING()
REQUEST_ROW = Types.ROW_NAMED(REQUEST_FIELDS, [_L, _L, _S, _B, _S, _B, _S, _L, _B, _B, _B, _B, _B, _B, _B, _S])
"""What the parse stage hands to SQL: event time, account creation time, per subject type its key and
whether the request counts for the rate limits, then the request's facts (`detectors.features.request`)."""

ROWTIME_SCHEMA = (
    Schema.new_builder()
    .column_by_expression("rowtime", "TO_TIMESTAMP_LTZ(ts, 3)")
    .watermark("rowtime", "SOURCE_WATERMARK()")
    .build()
)


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


def candidate_columns(detector: SubjectDetector) -> list[str]:
    """Columns of the candidate rows: subject, ts, created_at, first_seen, then one count per window."""
    return ["subject", "ts", "created_at", "first_seen"] + [f"c{i}" for i in range(len(detector.windows))]


def feature_query(t_env: StreamTableEnvironment, requests: str, detector: SubjectDetector) -> Table:
    """Candidate rows of one subject type from the registered requests view `requests`."""
    kind = detector.subject_type
    over = "OVER (PARTITION BY {} ORDER BY rowtime RANGE BETWEEN {} PRECEDING AND CURRENT ROW)"
    view = f"{kind}_seen"
    t_env.create_temporary_view(
        view,
        t_env.sql_query(
            f"SELECT `{kind}` AS subject, ts, created_at, `{kind}_counted` AS counted, rowtime, "
            f"MIN(ts) {over.format(f'`{kind}`', 'UNBOUNDED')} AS first_seen "
            f"FROM {requests} WHERE `{kind}` IS NOT NULL"
        ),
    )
    previous, columns = f"(SELECT * FROM {view} WHERE counted)", []
    for i, ms in enumerate(detector.windows.values()):
        view = f"{kind}_w{i}"
        keep = ", ".join(["subject", "ts", "created_at", "first_seen", "rowtime", *columns])
        t_env.create_temporary_view(
            view,
            t_env.sql_query(f"SELECT {keep}, COUNT(*) {over.format('subject', interval(ms))} AS c{i} FROM {previous}"),
        )
        previous = f"(SELECT * FROM {view} WHERE c{i} > 0)"  # always true; keeps the planner from merging windows
        columns.append(f"c{i}")
    where = " OR ".join(f"c{i} > {limit}" for i, limit in enumerate(detector.thresholds.values()))
    return _named(
        t_env.sql_query(
            f"SELECT subject, ts, created_at, first_seen, {', '.join(columns)} FROM {previous} WHERE {where}"
        )
    )


def _n(condition: str) -> str:
    return f"SUM(CASE WHEN {condition} THEN 1 ELSE 0 END)"


_TUMBLE = "TABLE(TUMBLE(TABLE {}, DESCRIPTOR(rowtime), INTERVAL '1' MINUTES))"


def minute_queries(t_env: StreamTableEnvironment, requests: str) -> dict[str, Table]:
    """One-minute summaries per account, IP and network (`detectors.features.minutes.summarise` in SQL), with
    the columns in the order of `AccountMinute` / `AddressMinute`; addresses only for minutes with logged-out
    requests (logged-in traffic is judged per account)."""
    start = "MIN(ts) - MOD(MIN(ts), 60000)"  # every row of the window is in that minute
    account = f"""
        SELECT account, {start}, MAX(ts), MIN(created_at), MIN(ts), COUNT(*), {_n("account_counted")},
          {_n("account_counted AND nav")}, {_n("account_counted AND noref")}, {_n("not_found")}, {_n("asset")},
          COUNT(DISTINCT CASE WHEN account_counted THEN target END),
          MIN(CASE WHEN account_counted THEN target END), MAX(CASE WHEN account_counted THEN target END),
          COUNT(DISTINCT ip), {_n("scripted")}, {_n("browser")}, MIN(user_agent), MIN(network)
        FROM {_TUMBLE.format(requests)} WHERE account IS NOT NULL
        GROUP BY account, window_start, window_end"""
    out = "account IS NULL"
    queries = {"account": _named(t_env.sql_query(account))}
    for kind in ("ip", "network"):
        queries[kind] = _named(
            t_env.sql_query(f"""
            SELECT `{kind}`, {start}, MAX(ts), COUNT(*), {_n(out)}, {_n("ip_counted")},
              {_n("ip_counted AND not_found")},
              COUNT(DISTINCT account),
              COUNT(DISTINCT CASE WHEN created_at IS NOT NULL AND ts - created_at < {YOUNG_MS} THEN account END),
              COUNT(DISTINCT ip), {_n("crawler_ua")},
              COUNT(DISTINCT CASE WHEN ip_counted THEN target END),
              MIN(CASE WHEN ip_counted THEN target END), MAX(CASE WHEN ip_counted THEN target END)
            FROM {_TUMBLE.format(requests)}
            GROUP BY `{kind}`, window_start, window_end HAVING {_n(out)} > 0""")
        )
    return queries


def _named(table: Table) -> Table:
    """Unique column names (c0, c1, ...): unnamed aggregates may otherwise clash."""
    names = table.get_schema().get_field_names()
    return table.alias(*(f"c{i}" for i in range(len(names))))
