"""End to end on the real broker: a simulated hour through the streaming detector, followed by the console; an
analyst dismisses a case in the console; an `unblock` appears on `decisions` and the verdict on `verdicts`, both
read `read_committed` as an enforcement service would read them; and the console shows the unblock."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time

import pytest

from benchmarks.broker import free_port
from detectors.events import format_ms, parse_timestamp
from tests.test_kafka_job import committed, decisions_of, produce, simulate, wait_for

pytestmark = [pytest.mark.kafka, pytest.mark.flink]
PASSWORD = "correct-horse-battery-staple"


def advance(bootstrap: str, topic: str, ts: int) -> None:
    """One request at event time `ts` on every partition, counted by no rule: moves the watermark to it."""
    from kafka import KafkaProducer

    event = {"ts": format_ms(ts), "ip": "192.0.2.1", "method": "GET", "path": "/static/app.js", "status": 200}
    producer = KafkaProducer(bootstrap_servers=bootstrap)
    for partition in producer.partitions_for(topic):
        producer.send(topic, value=json.dumps(event).encode(), partition=partition, timestamp_ms=ts)
    producer.close()


class Api:
    """A logged-in API client of the console (urllib: the test runs the console as an outside service)."""

    def __init__(self, base: str) -> None:
        import http.cookiejar
        import urllib.request

        self.base = base
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
        self.token = self.call("POST", "/api/v1/login", {"username": "analyst", "password": PASSWORD})["csrf_token"]

    def call(self, method: str, path: str, body=None):
        import urllib.request

        headers = {
            "Content-Type": "application/json",
            **({"X-CSRFToken": self.token} if hasattr(self, "token") else {}),
        }
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.base + path, data=data, method=method, headers=headers)
        with self.opener.open(request, timeout=60) as response:
            return json.loads(response.read())


def test_a_dismissal_in_the_console_unblocks_through_the_streaming_detector(kafka_broker, topic_prefix, tmp_path):
    bootstrap = kafka_broker.bootstrap
    events = simulate(tmp_path / "sim", "--seed", "7", "--hours", "1")
    produce(bootstrap, topic_prefix, events)
    lines = len(events.read_text().splitlines())
    job = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "jobs.cli",
            "run",
            "--bootstrap-servers",
            bootstrap,
            "--topic-prefix",
            topic_prefix,
            "--checkpoint-interval",
            "2s",
            "--checkpoint-dir",
            str(tmp_path / "chk"),
            "--idle-timeout",
            "5s",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    data, port = tmp_path / "console", free_port()
    review = [sys.executable, "-m", "jobs.cli", "review"]
    added = subprocess.run(
        [*review, "user", "add", "analyst", "--role", "analyst", "--password-stdin", "--data", str(data)],
        input=PASSWORD + "\n",
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert added.returncode == 0, added.stderr
    console = subprocess.Popen(
        [
            *review,
            "serve",
            "--port",
            str(port),
            "--data",
            str(data),
            "--bootstrap-servers",
            bootstrap,
            "--topic-prefix",
            topic_prefix,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        database = data / "review.sqlite3"

        def ready() -> bool:  # every event read, and a blocked address's case open
            assert job.poll() is None and console.poll() is None
            with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as db:
                (count,) = db.execute("SELECT count(*) FROM review_event").fetchone()
                cases = db.execute(
                    "SELECT id FROM review_case WHERE kind = 'subject' AND subject_type = 'ip' AND action = 'block'"
                ).fetchall()
            return count == lines and bool(cases)

        wait_for(ready, 300, "the console to read the events and the detector's block on an address")
        api = Api(f"http://127.0.0.1:{port}")
        [case] = api.call("GET", "/api/v1/cases?subject_type=ip&action=block")["cases"]
        subject = case["subject"]
        result = api.call(
            "POST",
            f"/api/v1/cases/{case['id']}/verdict",
            {"verdict": "dismiss", "note": "a university's NAT, not a scraper"},
        )
        assert result["case"]["status"] == "dismissed"
        # Traffic goes on: events after the verdict move the detector's watermark past it. More than one, since the
        # verdict may reach the job after the first of them (its sources are read independently); a verdict behind
        # the watermark takes effect at the next watermark.
        clock = {"ts": max(parse_timestamp(json.loads(x)["ts"]) for x in events.read_text().splitlines()), "sent": 0.0}

        def unblocks() -> list[dict]:
            found = decisions_of(committed(bootstrap, topic_prefix + "decisions", 1000))
            if time.monotonic() - clock["sent"] > 5:
                clock["ts"] += 3_600_000 if not clock["sent"] else 60_000
                clock["sent"] = time.monotonic()
                advance(bootstrap, topic_prefix + "access-logs", clock["ts"])
            return [d for d in found if d["action"] == "unblock"]

        wait_for(lambda: unblocks(), 300, "an unblock on the decisions topic")
        [unblock] = unblocks()
        assert (unblock["subject_type"], unblock["subject"], unblock["reasons"]) == (
            "ip",
            subject,
            ["analyst_dismissed"],
        )
        [message] = committed(bootstrap, topic_prefix + "verdicts")
        verdict = json.loads(message.value)
        assert message.key.decode() == f"ip:{subject}"
        assert (verdict["verdict"], verdict["analyst"], verdict["note"]) == (
            "dismiss",
            "analyst",
            "a university's NAT, not a scraper",
        )
        assert verdict["verdict_id"] == result["verdicts"][0]["verdict_id"]

        def shown() -> bool:
            history = api.call("GET", f"/api/v1/cases/{case['id']}")["decisions"]
            return any(d["decision_id"] == unblock["decision_id"] for d in history)

        wait_for(shown, 60, "the console to show the unblock in the case's history")
    finally:
        for process in (console, job):
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
