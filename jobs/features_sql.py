"""Flink SQL for the windowed features of `detectors/features/profile_views.py`.

Per subject type, a chain of OVER windows (one per trailing window the rules read,
and first-seen time for accounts) runs in the JVM in event-time order; only rows
where some count passes the lowest limit on it (candidates) leave the query.
"""

from __future__ import annotations

from pyflink.common import Types
from pyflink.table import Schema, StreamTableEnvironment, Table

from detectors.engine import SubjectDetector

REQUEST_FIELDS = ["ts", "created_at", "account", "account_counted", "ip", "ip_counted"]
REQUEST_ROW = Types.ROW_NAMED(
    REQUEST_FIELDS,
    [Types.LONG(), Types.LONG(), Types.STRING(), Types.BOOLEAN(), Types.STRING(), Types.BOOLEAN()],
)
"""What the parse stage hands to SQL: event time, account creation time, and per subject type
its key and whether the request counts."""

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
        previous = view
        columns.append(f"c{i}")
    where = " OR ".join(f"c{i} > {limit}" for i, limit in enumerate(detector.thresholds.values()))
    return t_env.sql_query(
        f"SELECT subject, ts, created_at, first_seen, {', '.join(columns)} FROM {previous} WHERE {where}"
    )
