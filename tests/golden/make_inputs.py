"""Writes the `input.*` files of the golden cases (run once; the files are committed).

    python tests/golden/make_inputs.py

Each case folder also holds `case.md` (what it shows) and `expected.jsonl` (the
decisions, without the wall-clock `emitted_at`), reviewed by hand.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC
from pathlib import Path

import orjson

from detectors.events import format_ms

HERE = Path(__file__).parent
T0 = 1_767_600_000_000  # 2026-01-05T08:00:00Z
MIN, HOUR, DAY = 60_000, 3_600_000, 86_400_000


def event(
    ts: int, ip: str, path: str, account: str | None = None, created: int | None = None, status: int = 200
) -> dict:
    e: dict = {"ts": format_ms(ts), "ip": ip, "method": "GET", "path": path, "status": status}
    if account is not None:
        e["account_id"] = account
    if created is not None:
        e["account_created_at"] = format_ms(created)
    e["user_agent"] = "Mozilla/5.0 (X11; Linux x86_64) Firefox/120.0"
    return e


def views(
    account: str | None, ip: str, start: int, n: int, every: int, rng: random.Random, created: int | None = None
) -> Iterator[dict]:
    for i in range(n):
        yield event(
            start + i * every + rng.randrange(every // 4 + 1), ip, f"/u/{rng.randrange(1, 90_000)}", account, created
        )


def write(case: str, events: list[dict], name: str = "input.jsonl") -> None:
    events.sort(key=lambda e: e["ts"])
    folder = HERE / case
    folder.mkdir(exist_ok=True)
    (folder / name).write_bytes(b"".join(orjson.dumps(e) + b"\n" for e in events))


def main() -> None:
    rng = random.Random(2026)
    # A brand-new account crawls profiles every ~2 s for 20 minutes.
    write("new_account_crawler", list(views("fresh42", "203.0.113.10", T0 + 3 * MIN, 600, 2000, rng, created=T0)))
    # The same crawler without account_created_at: its age counts from first sight (a login).
    write(
        "new_account_first_seen",
        [event(T0, "203.0.113.11", "/login", "anon7"), *views("anon7", "203.0.113.11", T0 + MIN, 80, 3000, rng)],
    )
    # An account created last year views 130 profiles within one hour: over the hourly limit of 120.
    write(
        "aged_account_hourly_limit",
        list(views("veteran", "198.51.100.20", T0, 130, 25_000, rng, created=T0 - 400 * DAY)),
    )
    # An aged account stays at 100 views per hour (under 120/h) for 11 hours: over 1,000 per day.
    write(
        "aged_account_daily_limit",
        list(views("steady", "198.51.100.21", T0, 1100, 36_000, rng, created=T0 - 400 * DAY)),
    )
    # A logged-out IP walks profile ids in order, two per second, for 6 minutes (many 404s).
    write(
        "logged_out_enumerator",
        [event(T0 + i * 500, "192.0.2.66", f"/u/{1000 + i}", status=404 if i % 3 else 200) for i in range(720)],
    )
    # People, none over a limit: an onboarding new user (40 views in 10 minutes), a user who views
    # their own profile 200 times, 30 colleagues behind one corporate NAT IP, a logged-out visitor.
    benign = list(views("newbie", "100.64.1.2", T0 + MIN, 40, 15_000, rng, created=T0))
    benign += [event(T0 + i * 10_000, "100.64.1.3", "/u/selfie", "selfie", T0 - 30 * DAY) for i in range(200)]
    for k in range(30):
        benign += views(f"colleague{k}", "198.51.100.99", T0 + k * 1000, 40, 60_000, rng, created=T0 - 90 * DAY)
    benign += [event(T0 + i * 20_000, "100.64.9.9", p) for i, p in enumerate(["/", "/u/5", "/search?q=x", "/u/6"])]
    write("benign_mix", benign)
    # The new-account crawler again, but the log arrives out of order (each event up to 20 s early or late).
    shuffled = list(views("jumbled", "203.0.113.12", T0 + 3 * MIN, 200, 2000, rng, created=T0))
    shuffled.sort(key=lambda e: e["ts"])
    keyed = sorted(((i * 2000 + rng.randrange(-10_000, 10_000), e) for i, e in enumerate(shuffled)), key=lambda p: p[0])
    folder = HERE / "out_of_order"
    folder.mkdir(exist_ok=True)
    (folder / "input.jsonl").write_bytes(b"".join(orjson.dumps(e) + b"\n" for _, e in keyed))
    # An nginx combined log: the remote user is the account; a crawler and a logged-out enumerator.
    lines = []
    for i in range(140):
        ts = T0 + i * 20_000
        stamp = _clf_time(ts)
        lines.append(
            (
                ts,
                f'198.51.100.7 - combo [{stamp}] "GET /profile/{i * 7} HTTP/1.1" 200 2326 "-" "python-requests/2.31.0"',
            )
        )
    for i in range(70):
        ts = T0 + 10 * MIN + i * 700
        lines.append(
            (
                ts,
                f'203.0.113.99 - - [{_clf_time(ts)}] "GET /api/v1/users/{5000 + i}?fields=bio HTTP/1.1" 404 12 '
                '"-" "curl/8.5.0"',
            )
        )
    lines.sort()
    folder = HERE / "combined_log"
    folder.mkdir(exist_ok=True)
    (folder / "input.log").write_text("".join(line + "\n" for _, line in lines))


def _clf_time(ts: int) -> str:
    from datetime import datetime

    return datetime.fromtimestamp(ts / 1000, UTC).strftime("%d/%b/%Y:%H:%M:%S +0000")


if __name__ == "__main__":
    main()
