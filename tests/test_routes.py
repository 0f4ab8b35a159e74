"""The route table (detectors/routes.py): built-in defaults, overrides from config, and bad entries."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from detectors.config import ConfigError, load_config
from detectors.routes import DEFAULT_ROUTES, PERSONAL_DATA_ACTIONS, Route, RouteError, RouteTable

DEFAULT = RouteTable.default()
ASSET = re.compile(next(r["pattern"] for r in DEFAULT_ROUTES if r["action"] == "static" and "css" in r["pattern"]))


@pytest.mark.parametrize(
    "path, target",
    [
        ("/u/7", "7"),
        ("/u/7/", "7"),
        ("/u/7?tab=posts", "7"),
        ("/u/7/?tab=posts", "7"),
        ("/u/7#bio", "7"),
        ("/users/alice", "alice"),
        ("/users/alice/", "alice"),
        ("/profile/a.b-c_d", "a.b-c_d"),
        ("/profile/%C3%A9mile?ref=search", "%C3%A9mile"),
        ("/api/v1/users/42", "42"),
        ("/api/v2/users/42?fields=bio", "42"),
        ("/api/v10/users/42/", "42"),
        ("/api/v1/users/42/?fields=bio,name", "42"),
        ("/u/lookup", "lookup"),
        ("/users/contacts", "contacts"),
    ],
)
def test_profile_views(path: str, target: str) -> None:
    assert DEFAULT.classify(path) == ("profile_view", target)


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/users/42/posts",
        "/api/v1/users/42/posts?page=2",
        "/users/42/followers",
        "/u/7/edit",
        "/u/",
        "/u",
        "/users/",
        "/api/v1/users",
        "/api/v1/users/",
        "/api/users/42",  # no version
        "/api/vX/users/42",
        "/U/7",
        "/user/7",
        "/x/u/7",
    ],
)
def test_not_profile_views(path: str) -> None:
    assert DEFAULT.classify(path)[0] != "profile_view"


@pytest.mark.parametrize(
    "path, action",
    [
        ("/search", "search"),
        ("/search?q=alice", "search"),
        ("/search/", "search"),
        ("/search/users?q=a", "search"),
        ("/api/v1/search", "search"),
        ("/api/v3/search/people?q=a", "search"),
        ("/searching", "other"),
        ("/static/app.js", "static"),
        ("/static/fonts/x", "static"),
        ("/favicon.ico", "static"),
        ("/img/logo.png?v=3", "static"),
        ("/a/b.min.css", "static"),
        ("/font.woff2", "static"),
        ("/photo.jpeg", "static"),
        ("/app.mjs", "static"),
        ("/login", "auth"),
        ("/logout", "auth"),
        ("/signup", "auth"),
        ("/register?next=/u/7", "auth"),
        ("/auth/callback", "auth"),
        ("/oauth/authorize?client_id=x", "auth"),
        ("/api/v1/login", "auth"),
        ("/api/v1/token", "auth"),
        ("/api/v2/oauth/token", "auth"),
        ("/", "feed"),
        ("/?page=2", "feed"),
        ("/feed", "feed"),
        ("/home/", "feed"),
        ("/api/v1/feed?cursor=abc", "feed"),
        ("/about", "other"),
        ("/api/v1/posts/9", "other"),
        ("/feeds", "other"),
        ("*", "other"),
        ("/api/v1/contacts/import", "contact_import"),
        ("/contacts/import", "contact_import"),
        ("/api/v2/contacts/import/?source=google", "contact_import"),
        ("/api/v1/contacts", "other"),
        ("/api/v1/users/lookup", "lookup"),  # no identifier given: still a look-up, without a target
        ("/lookup?name=ann", "lookup"),
    ],
)
def test_other_actions(path: str, action: str) -> None:
    assert DEFAULT.classify(path) == (action, None)


@pytest.mark.parametrize(
    "path, target",
    [
        ("/api/v1/users/lookup?phone=%2B4915112345678", "%2B4915112345678"),
        ("/api/v3/users/lookup/?email=ann%40mail.example", "ann%40mail.example"),
        ("/lookup?email=ann%40mail.example", "ann%40mail.example"),
        ("/lookup?lang=de&phone=4915112345678&email=x", "4915112345678"),  # phone is listed first
        ("/lookup?phone=&email=b%40c.example", "b%40c.example"),  # an empty value names no one
        ("/lookup?phone=1#frag", "1"),
    ],
)
def test_lookups_name_the_looked_up_identifier(path: str, target: str) -> None:
    assert DEFAULT.match(path) == Route("lookup", target, True)


@pytest.mark.parametrize(
    "path, action, personal",
    [
        ("/u/7", "profile_view", True),
        ("/api/v1/users/7", "profile_view", True),
        ("/api/v1/users/lookup?phone=1", "lookup", True),
        ("/api/v1/contacts/import", "contact_import", True),
        ("/search?q=ann", "search", True),
        ("/api/v1/search/people?q=a", "search", True),
        ("/feed", "feed", False),
        ("/login", "auth", False),
        ("/static/app.js", "static", False),
        ("/api/v1/users/7/posts", "other", False),
    ],
)
def test_default_routes_declare_which_disclose_personal_data(path: str, action: str, personal: bool) -> None:
    route = DEFAULT.match(path)
    assert (route.action, route.personal_data) == (action, personal)
    assert DEFAULT.classify(path)[0] == action
    assert (action in DEFAULT.discloses) is personal


def test_personal_data_defaults_follow_the_action() -> None:
    assert DEFAULT.discloses == PERSONAL_DATA_ACTIONS == {"profile_view", "lookup", "contact_import", "search"}


def test_first_matching_route_wins() -> None:
    table = RouteTable.from_config(
        [
            {"action": "static", "pattern": r"^/u/static$"},
            {"action": "profile_view", "pattern": r"^/u/(?P<target>[^/]+)$"},
        ]
    )
    assert table.classify("/u/static") == ("static", None)
    assert table.classify("/u/9") == ("profile_view", "9")


ids = st.text(st.characters(codec="utf-8", exclude_characters="/?#"), min_size=1, max_size=30)


@given(
    ids,
    st.sampled_from(["/u/{}", "/users/{}", "/profile/{}", "/api/v1/users/{}", "/api/v42/users/{}"]),
    st.sampled_from(["", "/", "?x=1", "/?x=1&y=/a/b", "#frag"]),
)
def test_any_id_segment_round_trips_as_target(target: str, template: str, suffix: str) -> None:
    assume(not ASSET.search(target))  # see test_profile_id_that_looks_like_an_asset_is_a_profile_view
    assert DEFAULT.classify(template.format(target) + suffix) == ("profile_view", target)


def test_profile_id_that_looks_like_an_asset_is_a_profile_view() -> None:
    assert DEFAULT.classify("/u/node.js") == ("profile_view", "node.js")


# --- overrides from config -------------------------------------------------------------------------


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "platform.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_config_routes_replace_the_default_table(tmp_path: Path) -> None:
    config = load_config(
        write(
            tmp_path,
            """
[[routes]]
action = "profile_view"
pattern = '^/people/(?P<target>[^/]+)$'

[[routes]]
action = "search"
pattern = '^/find'
""",
        )
    )
    assert config.routes.classify("/people/ann?x=1") == ("profile_view", "ann")
    assert config.routes.classify("/find?q=a") == ("search", None)
    assert config.routes.classify("/u/7") == ("other", None)
    assert config.routes.classify("/static/app.js") == ("other", None)
    assert len(config.routes.routes) == 2


def test_config_routes_declare_personal_data(tmp_path: Path) -> None:
    config = load_config(
        write(
            tmp_path,
            """
[[routes]]
action = "profile_view"
pattern = '^/people/(?P<target>[^/]+)$'

[[routes]]
action = "other"
pattern = '^/people/[^/]+/contact-info$'
personal_data = true

[[routes]]
action = "search"
pattern = '^/search/posts'
personal_data = false

[[routes]]
action = "lookup"
pattern = '^/find-by-phone/(?P<target>[^/]+)$'

[[routes]]
action = "lookup"
pattern = '^/find$'
target_params = ["mail", "msisdn"]
""",
        )
    )
    routes = config.routes
    assert routes.match("/people/ann") == Route("profile_view", "ann", True)
    assert routes.match("/people/ann/contact-info") == Route("other", None, True)
    assert routes.match("/search/posts?q=x") == Route("search", None, False)
    assert routes.match("/find-by-phone/4915112345678") == Route("lookup", "4915112345678", True)
    assert routes.match("/find?msisdn=49151&mail=a") == Route("lookup", "a", True)
    assert routes.discloses == {"profile_view", "other", "lookup"}


def test_no_routes_in_config_means_defaults() -> None:
    assert load_config().routes == DEFAULT


@pytest.mark.parametrize(
    "entries, message",
    [
        ([{"action": "browse", "pattern": "^/"}], "route 1: action 'browse' is not one of profile_view, search"),
        (
            [{"action": "search", "pattern": "^/s"}, {"action": "search", "pattern": "^/(unclosed"}],
            "route 2: pattern '^/(unclosed' is invalid",
        ),
        (
            [{"action": "profile_view", "pattern": "^/u/([^/]+)$"}],
            "route 1: a profile_view pattern needs a (?P<target>...) group",
        ),
        ([{"action": "search", "pattern": "^/s", "weight": 2}], "route 1: unknown key(s) weight"),
        ([{"action": "search"}], "route 1: 'pattern' must be a regular expression string"),
        ([{"pattern": "^/s"}], "route 1: action None is not one of"),
        ([{"action": "lookup", "pattern": "^/lookup$"}], "route 1: a lookup route needs a (?P<target>...) group"),
        ([{"action": "search", "pattern": "^/s", "personal_data": "yes"}], "'personal_data' must be true or false"),
        ([{"action": "search", "pattern": "^/s", "target_params": ["q"]}], "'target_params' is for lookup and"),
        ([{"action": "lookup", "pattern": "^/l", "target_params": "phone"}], "'target_params' must be a list"),
    ],
)
def test_bad_route_entries(entries: list[dict[str, object]], message: str) -> None:
    with pytest.raises(RouteError) as exc:
        RouteTable.from_config(entries)
    assert message in str(exc.value)


def test_bad_route_in_config_names_file_and_route_number(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
[[routes]]
action = "search"
pattern = '^/search'

[[routes]]
action = "profile_view"
pattern = '^/people/([^/]+)$'
""",
    )
    with pytest.raises(ConfigError) as exc:
        load_config(path)
    assert str(exc.value).startswith(f"config {path}: route 2: a profile_view pattern needs")


def test_route_entry_that_is_not_a_table_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="route"):
        load_config(write(tmp_path, "routes = ['^/people/(?P<target>[^/]+)$']\n"))


def test_empty_route_table_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="routes"):
        load_config(write(tmp_path, "routes = []\n"))
