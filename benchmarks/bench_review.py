"""Review console: how fast the queue page answers with many open cases.

    scrapeguard bench review [--cases 10000] [--requests 40]
    python -m benchmarks.bench_review [--cases 10000] [--requests 40] [--database URL]   # also on PostgreSQL

Fills a scratch console database with open cases (subjects and fleets, every action, a spread of reasons,
account ages and times), starts `scrapeguard review serve` on a free port, logs in as an analyst over HTTP and
times the queue page (the first page of 50, counts and filter choices included) and its filtered variants, as a
browser would fetch them. Prints median, 95th percentile and maximum per URL.
"""

from __future__ import annotations

import argparse
import http.cookiejar
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

PASSWORD = "benchmark-passphrase"
REASONS = [
    "account_profile_views_1m",
    "account_profile_views_1h",
    "new_account_profile_views_2m",
    "ip_profile_views_1m",
    "sequential_targets",
    "automation_user_agent",
    "profiles_only",
    "steady_profile_crawl",
    "address_rotation",
    "anomaly_score",
    "corroborated",
]
URLS = [
    "/",
    "/?action=block",
    "/?reason=steady_profile_crawl",
    "/?subject_type=ip",
    "/?kind=group",
    "/?age_max=1d",
    "/?since=2026-01-05T12:00",
    "/?page=100",
    "/api/v1/cases",
]


def fill(cases: int, seed: int = 1) -> None:
    """`cases` open cases, about 1 in 20 a fleet of 5 accounts, each with its decisions."""
    from review.models import Case, DecisionRecord, Member

    rng = random.Random(seed)
    t0 = datetime(2026, 1, 5, 8, tzinfo=UTC)
    rank = {"throttle": 0, "challenge": 1, "block": 2}
    rows, members, decisions = [], [], []
    for i in range(cases):
        group = rng.random() < 0.05
        subject_type = "account" if group or rng.random() < 0.8 else "ip"
        address = f"10.{i // 65536}.{i // 256 % 256}.{i % 256}"
        subject = "" if group else (f"acct{i}" if subject_type == "account" else address)
        action = rng.choice(list(rank))
        score = round(rng.uniform(0.5, 1.0), 3)
        reasons = sorted(set(rng.sample(REASONS, rng.randint(1, 3)) + (["coordinated_fleet"] if group else [])))
        when = t0 + timedelta(seconds=rng.uniform(0, 24 * 3600))
        rows.append(
            Case(
                kind="coordinated_fleet" if group else "subject",
                key=f"bench:{i}",
                label=f"fleet {i}" if group else subject,
                subject_type=subject_type,
                subject=subject,
                action=action,
                score=score,
                risk=rank[action] + score,
                reasons="|" + "".join(r + "|" for r in reasons),
                member_count=5 if group else 1,
                decision_count=5 if group else 1,
                account_age_s=rng.choice([None, rng.uniform(60, 400 * 86400)]),
                first_seen=when,
                last_seen=when,
            )
        )
    Case.objects.bulk_create(rows, batch_size=1000)
    for case in Case.objects.filter(key__startswith="bench:").only("pk", "kind", "subject", "subject_type", "action"):
        subjects = [f"{case.pk}-m{j}" for j in range(5)] if case.kind != "subject" else [case.subject]
        for j, s in enumerate(subjects):
            members.append(Member(case_id=case.pk, subject_type=case.subject_type, subject=s))
            decisions.append(
                DecisionRecord(
                    decision_id=f"{case.pk:08d}-0000-5000-8000-{j:012d}",
                    case_id=case.pk,
                    subject_type=case.subject_type,
                    subject=s,
                    action=case.action,
                    score=0.7,
                    reasons=["account_profile_views_1m"],
                    evidence={},
                    event_time=t0,
                    expires_at=t0 + timedelta(hours=1),
                    emitted_at=t0,
                    detector_version="bench",
                )
            )
    Member.objects.bulk_create(members, batch_size=2000)
    DecisionRecord.objects.bulk_create(decisions, batch_size=2000)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def measure(cases: int, requests: int, database: str | None = None) -> list[tuple[str, float, float, float, int]]:
    """Fill a scratch console with `cases` open cases, serve it on a free port and time each URL `requests` times
    (after 3 warm-up requests): (url, median ms, p95 ms, max ms, bytes) per URL."""
    data = Path(tempfile.mkdtemp(prefix="bench-review-"))
    os.environ["SCRAPEGUARD_REVIEW_DATA"] = str(data)
    if database:
        os.environ["SCRAPEGUARD_REVIEW_DATABASE"] = database
    os.environ["DJANGO_SETTINGS_MODULE"] = "review.settings"
    import django

    django.setup()
    from django.contrib.auth.models import Group, User
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    fill(cases)
    user = User.objects.create_user("bench", password=PASSWORD)
    user.groups.set([Group.objects.get(name="analyst")])
    port = free_port()
    cmd = [sys.executable, "-m", "jobs.cli", "review", "serve", "--port", str(port), "--data", str(data),
           "--verdicts", str(data / "verdicts.jsonl"), *(["--database", database] if database else [])]  # fmt: skip
    server = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    rows = []
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(300):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.1)
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
        login = urllib.request.Request(
            base + "/api/v1/login",
            method="POST",
            headers={"Content-Type": "application/json"},
            data=json.dumps({"username": "bench", "password": PASSWORD}).encode(),
        )
        opener.open(login).read()
        for url in URLS:
            times = []
            for i in range(requests + 3):
                t = time.perf_counter()
                body = opener.open(base + url).read()
                if i >= 3:
                    times.append((time.perf_counter() - t) * 1000)
            times.sort()
            p95 = times[min(len(times) - 1, int(0.95 * len(times)))]
            rows.append((urllib.parse.unquote(url), statistics.median(times), p95, times[-1], len(body)))
    finally:
        server.terminate()
        server.wait()
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=40, help="timed requests per URL (after 3 warm-up ones)")
    parser.add_argument("--database", help="postgresql://... instead of a scratch SQLite database")
    parser.add_argument("--json", action="store_true", help="print the rows as one JSON list (for `scrapeguard bench`)")
    args = parser.parse_args()
    rows = measure(args.cases, args.requests, args.database)
    if args.json:
        print(json.dumps(rows))
        return 0
    print(f"{'url':40} {'median ms':>10} {'p95 ms':>8} {'max ms':>8}  bytes")
    for url, median, p95, most, size in rows:
        print(f"{url:40} {median:10.1f} {p95:8.1f} {most:8.1f}  {size}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
