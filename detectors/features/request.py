"""What one request says on its own: the per-event facts every feature and rate limit is built from.

Stateless, so the Flink job computes them in its parse stage, in parallel, and the
windowed counting runs in SQL. The classifiers are cached: user agents, addresses,
referers and paths repeat, and this runs once per request.

>>> classify_user_agent("python-requests/2.31.0"), classify_user_agent(None)
('script', 'none')
>>> network_of("10.1.2.3"), network_of("2001:db8:1:2::7")
('10.1.2.0/24', '2001:db8:1::/48')
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from functools import lru_cache
from typing import NamedTuple
from urllib.parse import urlsplit

from detectors.events import AccessEvent
from detectors.routes import LOOKUP_ACTIONS, RouteTable

UA_CLASSES = ("none", "browser", "app", "script", "headless", "crawler", "other")
SCRIPTED = ("script", "headless")

_HEADLESS = re.compile(r"headless|phantomjs|puppeteer|playwright|selenium|webdriver|slimerjs", re.I)
_CRAWLER = re.compile(
    r"googlebot|bingbot|slurp|crawler|spider|bot/"
    r"|(?<![0-9])(?<!cu)bot\b"  # bot, or a name ending in it (Slackbot, TelegramBot), not the Cubot phone
    r"|externalhit|facebot|preview|unfurl|embedly|iframely|vkshare|whatsapp/",  # link-preview fetchers
    re.I,
)
"""A client that says it is automated: crawlers, and the fetchers that preview a shared link (they
fetch one page, no assets, no referer, from many addresses)."""
_SCRIPT = re.compile(
    r"^(?:python-requests|python-urllib|python-httpx|aiohttp|curl|wget|go-http-client|java/|okhttp|"
    r"libwww-perl|scrapy|node-fetch|axios|httpclient|ruby|php|postmanruntime)",
    re.I,
)
_BROWSER = re.compile(r"^Mozilla/5\.0 .*(?:Chrome|Firefox|Safari|Edg)/", re.I)
_CACHE = 1 << 16


@lru_cache(maxsize=_CACHE)
def classify_user_agent(ua: str | None) -> str:
    """One of `UA_CLASSES`: what kind of client the user agent claims to be."""
    if not ua:
        return "none"
    if _HEADLESS.search(ua):
        return "headless"
    if _CRAWLER.search(ua):
        return "crawler"
    if _SCRIPT.match(ua):
        return "script"
    if _BROWSER.match(ua):
        return "browser"
    if "/" in ua and ("iOS" in ua or "Android" in ua):
        return "app"
    return "other"


@lru_cache(maxsize=_CACHE)
def network_of(ip: str) -> str:
    """The address's network: /24 for IPv4, /48 for IPv6 (`ip` in canonical form, as the parsers give it)."""
    if ":" not in ip:
        return ip[: ip.rindex(".")] + ".0/24"
    return str(ipaddress.ip_network(f"{ip}/48", strict=False))


class RequestFacts(NamedTuple):
    """A request reduced to what the features count: the parse stage's output and the SQL input.

    `view`: a profile view that counts (another user's profile for an account, any
    profile when logged out); `target`: its numeric target id when the id is a number;
    `nav`: the view was reached from a page that is not another profile (per its referer: search, the
    feed, a list of people such as a group's members or someone's followers, a link elsewhere); `noref`: it
    had no referer; `scripted`, `browser`, `crawler`: what `classify_user_agent` says;
    `declared`: a logged-out request from an address the allowlist declares (a verified
    crawler's, a partner's), which the access path's summaries leave out.
    """

    ts: int
    account: str | None
    created_at: int | None
    ip: str
    network: str
    view: bool
    target: int | None
    not_found: bool
    static: bool
    nav: bool
    noref: bool
    scripted: bool
    browser: bool
    crawler: bool
    user_agent: str | None
    tier: str | None = None  # the platform's trust tier of the account, as the event says
    lookup: bool = False  # a look-up of people by an identifier (phone, e-mail, contact import)
    declared: bool = False
    search: bool = False  # a page of search results (people listed)


def facts(event: AccessEvent, routes: RouteTable, declares: Callable[[str], bool] | None = None) -> RequestFacts:
    """The facts of one event, routed by `routes`; `declared` by `declares` (address -> bool), when given."""
    action, target = routes.classify(event.path)
    account, referer, ua = event.account_id, event.referer, classify_user_agent(event.user_agent)
    view = action == "profile_view" and (account is None or target != account)
    nav = noref = False
    if view:
        noref = not referer
        if referer:
            nav = _referer_action(routes, referer) not in _NOT_NAV
    return RequestFacts(  # by position, which is cheaper than by keyword: the fields in order
        event.ts,
        account,
        event.account_created_at,
        event.ip,
        network_of(event.ip),
        view,
        int(target) if view and target is not None and target.isdigit() and len(target) < 19 else None,
        event.status == 404,
        action == "static",
        nav,
        noref,
        ua in SCRIPTED,
        ua == "browser",
        ua == "crawler",
        event.user_agent,
        event.account_tier,
        action in LOOKUP_ACTIONS,
        declares is not None and account is None and declares(event.ip),
        action == "search",
    )


_NOT_NAV = frozenset({"profile_view", "static"})
"""Referers a view is not navigated from: another profile (a walk from profile to profile), an asset."""


def _referer_action(routes: RouteTable, referer: str) -> str:
    return routes.classify(_referer_path(referer))[0]


@lru_cache(maxsize=_CACHE)
def _referer_path(referer: str) -> str:
    try:
        return urlsplit(referer).path or "/"
    except ValueError:
        return "/"
