"""Offline evaluation: how well decisions stop labeled scrapers, beside what platforms already deploy.

`scrapeguard evaluate --events F --labels F --decisions F` reads labeled traffic
(`scrapeguard simulate`'s `events.jsonl[.gz]` and `labels.json`) and a decisions file
(`scrapeguard run`'s output), and scores three engines on the same events in one pass:

- **detector**: the decisions file;
- **static rate limit** (`evaluation.static_limit`): profile views per account per
  sliding hour > A, requests per IP per sliding minute > B, with A and B tuned on the
  labels themselves (best macro recall at a benign flag rate <= 0.1 %);
- **leaky bucket** (`evaluation.leaky_bucket`): CrowdSec's
  `crowdsecurity/http-crawl-non_statics` scenario per IP.

**Actors.** Each labels key is one actor: `account:<id>` (all requests logged in as
that account, from any IP) or `ip:<addr>` (the logged-out requests from that address).
Kinds `benign_*` are benign, `scraper_*` are scraper strategies.

**What reaches an actor** (`evaluation.attribution`). A throttle, challenge or block on
a subject reaches the actor keyed by that subject at its event time. An action on an
IP at time t, in force until e (a decision's `expires_at`, cut short by a later
`unblock` of the same subject), also reaches every account-keyed actor that sent a
request from that IP within [t - 1 h, e]: at t if it used the IP in the hour up to t,
otherwise at its first request from the IP after t. So an IP-level decision on an IP a
benign account used counts against that account. Account actions never reach
IP-keyed actors, and `unblock` flags nothing. An actor's first action is the earliest
time anything reaches it; it is blocked if a `block` reaches it. The anchors' actions
follow the same rules (static limit: IP throttle in force 60 s; leaky bucket: 4 h ban).

**Scores** (`evaluation.metrics`). Per kind: actors, flagged, blocked and, for
scrapers, the profile views served (profile_view route, status < 400) and the
personal-data records disclosed (every route the route table marks as personal data:
a profile or an answered look-up is one record, a search page or contact import its
event's `records`, else one) at or before the first action (median and p95 over the
kind's actors, and the total). Overall: macro recall over scraper kinds, benign flag
rate (overall and per benign kind), blocked benign actors, and the leak ratio
(scraper records disclosed before detection / all records disclosed to scrapers; the
profile-view-only ratio of earlier versions is `leak_ratio_profile_views`).

Public API: `evaluate(events, labels, decisions) -> Evaluation` (with `.detector`,
`.static`, `.leaky` scores, `.tuning` and `.to_json()`), the text reports in
`evaluation.report`, and `evaluation.plot.plot_views_before`.
"""

from evaluation.core import Evaluation, evaluate
from evaluation.labels import InputError

__all__ = ["Evaluation", "InputError", "evaluate"]
