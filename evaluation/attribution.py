"""Which labeled actors an action reaches, and when (the attribution rules).

An action is on a subject (an account or an IP) at event time `time`, in force until
`end`. It reaches:

1. the actor keyed by that subject (`account:<id>` or `ip:<addr>`), at `time`;
2. for an IP action, also every account-keyed actor that sent a request from that IP
   within [time - 1 h, end]: at `time` if the account used the IP in the hour up to
   `time` (its traffic is what was acted on), else at its first request from the IP
   after `time` (the moment it runs into the action while it is in force).

An actor's first action is the earliest time any action reaches it; it is blocked if
any `block` action reaches it. So an IP decision that hits an IP a benign account used
counts against that account. Account actions never reach IP-keyed actors.

To answer rule 2 without keeping the events, each (account, IP) pair keeps its
requests as clusters whose consecutive requests are at most 1 h apart (`Presence`).
A time t lies in [s, s + 1 h] for some request s exactly when it lies in
[first, last + 1 h] of some cluster, and when it does not, the first request after t
is the first request of the next cluster; both parts of rule 2 are therefore exact.

>>> p = Presence()
>>> for ts in (0, 1_000, 5_000_000):   # two clusters: [0, 1 s] and [5000 s]
...     p.add(ts)
>>> p.reached_at(3_000_000, 3_000_000 + 60_000)      # 49 min after the last request: lookback
3000000
>>> p.reached_at(4_000_000, 4_000_000 + 60_000) is None  # 66 min after it, and nothing within the minute
True
>>> p.reached_at(4_000_000, 4_000_000 + 3_600_000)   # a 1 h action: reaches it at its next request
5000000
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Mapping, Sequence
from typing import NamedTuple

LOOKBACK_MS = 3_600_000
"""How far back before an IP action an account's use of the IP makes the action count against it."""


class Action(NamedTuple):
    """An action in force on its subject from `time` to `end` (epoch ms); `blocks` if it is a block."""

    time: int
    end: int
    blocks: bool = False


class Outcome(NamedTuple):
    """What reached one actor: the time of its first action (None: never flagged), and whether a block did."""

    first: int | None
    blocked: bool

    @property
    def flagged(self) -> bool:
        """Whether any throttle, challenge or block reached the actor."""
        return self.first is not None


NOT_FLAGGED = Outcome(None, False)


class Presence:
    """When one account used one IP: clusters of its requests at most `LOOKBACK_MS` apart."""

    __slots__ = ("firsts", "lasts")

    def __init__(self) -> None:
        self.firsts: list[int] = []
        self.lasts: list[int] = []

    def add(self, ts: int) -> None:
        """Record a request at `ts` (requests come in event-time order)."""
        lasts = self.lasts
        if lasts and ts - lasts[-1] <= LOOKBACK_MS:
            lasts[-1] = ts
        else:
            self.firsts.append(ts)
            lasts.append(ts)

    def reached_at(self, time: int, end: int) -> int | None:
        """When an IP action in force over [time, end] reaches this account (rule 2), or None."""
        firsts = self.firsts
        i = bisect_right(firsts, time) - 1
        if i >= 0 and time <= self.lasts[i] + LOOKBACK_MS:
            return time
        if i + 1 < len(firsts) and firsts[i + 1] <= end:
            return firsts[i + 1]
        return None


def resolve(
    actors: Iterable[str],
    account_actions: Mapping[str, Sequence[Action]],
    ip_actions: Mapping[str, Sequence[Action]],
    presence: Mapping[str, Mapping[str, Presence]],
    path_actions: Sequence[Action] = (),
    views_logged_out: Mapping[str, Presence] | None = None,
) -> dict[str, Outcome]:
    """Apply the rules: actor key -> `Outcome`.

    `account_actions` is keyed by actor key (`account:<id>`), `ip_actions` by address,
    `presence` by actor key, then address. `path_actions` (decisions on the access path of logged-out
    profile views) reach a logged-out actor when it asks for a profile while one is in force, as
    `views_logged_out` (by actor key) says.

    >>> p = Presence(); p.add(1_000)
    >>> resolve(["account:a", "ip:10.0.0.9"], {}, {"10.0.0.9": [Action(5_000, 9_000, True)]},
    ...         {"account:a": {"10.0.0.9": p}})
    {'account:a': Outcome(first=5000, blocked=True), 'ip:10.0.0.9': Outcome(first=5000, blocked=True)}
    """
    out: dict[str, Outcome] = {}
    for key in actors:
        first: int | None = None
        blocked = False
        if key.startswith("ip:"):
            direct: Sequence[Action] = ip_actions.get(key[3:], ())
        else:
            direct = account_actions.get(key, ())
        for action in direct:
            if first is None or action.time < first:
                first = action.time
            blocked = blocked or action.blocks
        reach = [(used, ip_actions.get(ip, ())) for ip, used in presence.get(key, {}).items()]
        views = (views_logged_out or {}).get(key)
        if views is not None:
            reach.append((views, path_actions))
        for used, actions in reach:
            for action in actions:
                if blocked and first is not None and action.time >= first:
                    break  # actions are in time order: nothing later can change the outcome
                reached = used.reached_at(action.time, action.end)
                if reached is None:
                    continue
                if first is None or reached < first:
                    first = reached
                blocked = blocked or action.blocks
        out[key] = NOT_FLAGGED if first is None else Outcome(first, blocked)
    return out
