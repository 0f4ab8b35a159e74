"""An `escalate` verdict (the review console's hand-over) is part of the verdict contract but neither acts nor
teaches: the detector's decisions are the same as without it."""

from __future__ import annotations

from detectors.config import load_config
from detectors.events import parse_line
from detectors.pipeline import detect
from detectors.verdicts import Verdict, parse_verdict

LINE = '{"ts": %d, "ip": "10.0.0.9", "method": "GET", "path": "/u/%d", "status": 200, "account_id": "c1"}'
T0 = 1767600000000


def test_escalate_parses_and_changes_no_decision():
    events = [parse_line(LINE % (T0 + i * 1500, i)) for i in range(60)]
    config = load_config()
    plain = detect(events, config)
    assert plain and plain[-1].subject == "c1"
    at = plain[-1].event_time + 1000
    escalate = parse_verdict(f'{{"ts": {at}, "subject_type": "account", "subject": "c1", "verdict": "escalate"}}')
    assert escalate == Verdict(at, "account", "c1", "escalate")
    assert detect(events, config, [escalate]) == plain
    dismissed = detect(events, config, [Verdict(at, "account", "c1", "dismiss")])
    assert [d.action for d in dismissed][-1] == "unblock"  # a dismiss at the same time would release it
