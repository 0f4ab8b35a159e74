"""`scrapeguard review ...`: run the console, feed it, and manage its users from the shell.

    scrapeguard review serve [--host 127.0.0.1] [--port 8000] (--bootstrap-servers B [--topic-prefix P] | --verdicts F)
    scrapeguard review ingest --decisions F [F ...] [--events F [F ...]]        embedded mode: files
    scrapeguard review feed --bootstrap-servers B [--topic-prefix P] [--until-end]
    scrapeguard review user add NAME --role viewer|analyst|admin [--password-stdin]
    scrapeguard review user set-role NAME ROLE
    scrapeguard review user disable NAME
    scrapeguard review purge --keep DURATION                                     delete old events (not evidence)
    scrapeguard review erase account:ID|ip:ADDRESS [...]                         delete one subject's events

Every command takes --data DIR (SQLite database and keys, default ./review-data) and --database URL
(postgresql://USER:PASSWORD@HOST:PORT/NAME). Mistakes print one line and exit with status 2.
"""

from __future__ import annotations

import argparse
import contextlib
import getpass
import gzip
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

USAGE_ERROR = 2
ROLES = ("viewer", "analyst", "admin")


class UsageError(Exception):
    """A bad option, input or state: one line, exit 2."""


def main(argv: list[str]) -> int:
    """Entry point behind `scrapeguard review`."""
    args = _parser().parse_args(argv)
    try:
        _setup(args)
        return int(args.handler(args))
    except UsageError as exc:
        print(f"scrapeguard review {args.command}: {exc}", file=sys.stderr)
        return USAGE_ERROR


def _setup(args: argparse.Namespace) -> None:
    """Point Django at the database and destinations, start it and bring the schema up to date."""
    env = {
        "SCRAPEGUARD_REVIEW_DATA": args.data,
        "SCRAPEGUARD_REVIEW_DATABASE": args.database,
        "SCRAPEGUARD_REVIEW_BOOTSTRAP": getattr(args, "bootstrap_servers", None),
        "SCRAPEGUARD_REVIEW_TOPIC_PREFIX": getattr(args, "topic_prefix", None),
        "SCRAPEGUARD_REVIEW_VERDICTS_FILE": getattr(args, "verdicts", None),
        "SCRAPEGUARD_REVIEW_DETECTOR_CONFIG": getattr(args, "config", None),
        "SCRAPEGUARD_REVIEW_CLOCK": getattr(args, "clock", None),
    }
    for key, value in env.items():
        if value is not None:
            os.environ[key] = str(Path(value).resolve()) if key.endswith(("_FILE", "_CONFIG")) else value
    if getattr(args, "config", None):
        from detectors.config import ConfigError, load_config

        try:
            load_config(args.config)
        except ConfigError as exc:
            raise UsageError(str(exc)) from None
    os.environ["DJANGO_SETTINGS_MODULE"] = "review.settings"
    import django
    from django.core.management import call_command
    from django.db.utils import OperationalError

    try:
        django.setup()
        call_command("migrate", verbosity=0, interactive=False)
    except (OperationalError, ValueError) as exc:
        raise UsageError(f"database {args.database or args.data}: {exc}".splitlines()[0]) from None


def _routes(args: argparse.Namespace):
    from detectors.config import load_config

    return load_config(getattr(args, "config", None)).routes


def _serve(args: argparse.Namespace) -> int:
    if not args.bootstrap_servers and not args.verdicts:
        raise UsageError("give --bootstrap-servers (verdicts to Kafka) or --verdicts FILE (embedded mode)")
    if args.bootstrap_servers and args.verdicts:
        raise UsageError("--bootstrap-servers and --verdicts exclude each other")
    if args.verdicts and not Path(args.verdicts).resolve().parent.is_dir():
        raise UsageError(f"--verdicts {args.verdicts}: directory {Path(args.verdicts).parent} does not exist")
    if not 0 < args.port < 65536:
        raise UsageError(f"--port {args.port} is not a TCP port")
    from waitress.server import create_server

    from review.wsgi import application

    try:
        server = create_server(application, host=args.host, port=args.port, threads=args.threads, ident="scrapeguard")
    except OSError as exc:
        raise UsageError(f"cannot listen on {args.host}:{args.port} ({exc.strerror})") from None
    if args.bootstrap_servers:
        from review.feed import follow_in_background

        follow_in_background(args.bootstrap_servers, args.topic_prefix, _routes(args))
    where = f"Kafka {args.bootstrap_servers} ({args.topic_prefix}verdicts)" if args.bootstrap_servers else args.verdicts
    print(f"scrapeguard review: serving http://{args.host}:{server.effective_port}/ ; verdicts to {where}", flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        server.run()
    return 0


def _ingest(args: argparse.Namespace) -> int:
    from review.ingest import ingest_decisions, ingest_event_lines

    decisions = [_existing(p) for p in args.decisions]
    events = [_existing(p) for p in args.events or []]
    routes = _routes(args)
    for path in events:
        summary = ingest_event_lines(_lines(path), routes)
        print(f"scrapeguard review ingest: {summary.line(f'events {path}')}")
    for path in decisions:
        import orjson

        def decoded(path: Path = path) -> Iterator[tuple[str, object]]:
            from review.ingest import InputError

            for place, line in _lines(path):
                if line.strip():
                    try:
                        yield place, orjson.loads(line)
                    except orjson.JSONDecodeError as exc:
                        yield place, InputError(f"not valid JSON ({exc})")

        summary = ingest_decisions(decoded())
        print(f"scrapeguard review ingest: {summary.line(f'decisions {path}')}")
    return 0


def _feed(args: argparse.Namespace) -> int:
    from review.feed import FeedError, follow

    try:
        summary = follow(args.bootstrap_servers, args.topic_prefix, _routes(args), until_end=args.until_end)
    except FeedError as exc:
        raise UsageError(str(exc)) from None
    print(f"scrapeguard review feed: {summary.line()}")
    return 0


def _purge(args: argparse.Namespace) -> int:
    from detectors.config import ConfigError, parse_duration
    from review.retention import purge

    try:
        keep = parse_duration(args.keep, "--keep")
    except ConfigError as exc:
        raise UsageError(str(exc)) from None
    print(f"scrapeguard review purge: {purge(keep).line(f'events older than {args.keep}')}")
    return 0


def _erase(args: argparse.Namespace) -> int:
    from review.retention import erasable, erase

    try:
        wanted = [erasable(name) for name in args.subjects]  # all checked before any is erased
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    for subject_type, subject in wanted:
        done = erase(subject_type, subject)
        print(f"scrapeguard review erase: {done.line(f'{subject_type}:{subject}')}")
    return 0


def _user(args: argparse.Namespace) -> int:
    from django.contrib.auth.models import Group, User
    from django.contrib.auth.password_validation import validate_password
    from django.core.exceptions import ValidationError
    from django.db import transaction

    existing = User.objects.filter(username=args.name).first()
    if args.action == "add":
        if existing is not None:
            raise UsageError(f"user {args.name!r} exists; use set-role, or disable it")
        password = _password(args)
        user = User(username=args.name)
        try:
            validate_password(password, user)
        except ValidationError as exc:
            raise UsageError(f"password for {args.name!r}: {' '.join(exc.messages)}") from None
        with transaction.atomic():
            user.set_password(password)
            user.save()
            user.groups.set([Group.objects.get(name=args.role)])
        print(f"scrapeguard review user: added {args.name} ({args.role})")
        return 0
    if existing is None:
        raise UsageError(f"no user {args.name!r}")
    if args.action == "set-role":
        existing.groups.set([Group.objects.get(name=args.role)])
        existing.is_active = True
        existing.save()
        print(f"scrapeguard review user: {args.name} is now {args.role}")
    else:
        from django.contrib.sessions.models import Session

        existing.is_active = False
        existing.save()
        ended = 0
        for session in Session.objects.all():
            if session.get_decoded().get("_auth_user_id") == str(existing.pk):
                session.delete()
                ended += 1
        print(f"scrapeguard review user: {args.name} disabled ({ended} session{'s' if ended != 1 else ''} ended)")
    return 0


def _password(args: argparse.Namespace) -> str:
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    elif sys.stdin.isatty():
        password = getpass.getpass(f"password for {args.name}: ")
        if getpass.getpass("again: ") != password:
            raise UsageError("the two passwords differ")
    else:
        raise UsageError("no terminal to ask for the password; pipe it in with --password-stdin")
    if not password:
        raise UsageError("the password is empty")
    return password


def _existing(name: str) -> Path:
    path = Path(name)
    if not path.is_file():
        raise UsageError(f"input {name}: {'not a regular file' if path.exists() else 'file not found'}")
    return path


def _lines(path: Path) -> Iterator[tuple[str, str]]:
    opener = gzip.open if path.suffix == ".gz" else open
    where = str(path.resolve())
    with opener(path, "rt", encoding="utf-8", errors="replace") as f:  # type: ignore[operator]
        for n, line in enumerate(f, 1):
            yield f"{where}:{n}", line.rstrip("\n")


def _parser() -> argparse.ArgumentParser:
    from jobs.cli import HelpFormatter  # the defaults in every command's help, as in the other commands

    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--data",
        default=os.environ.get("SCRAPEGUARD_REVIEW_DATA", "review-data"),
        metavar="DIR",
        help="SQLite database and generated keys",
    )
    common.add_argument("--database", metavar="URL", help="postgresql://USER:PASSWORD@HOST:PORT/NAME instead of SQLite")
    common.add_argument("--config", metavar="TOML", help="the detector's configuration (routes, allowlist)")
    kafka = argparse.ArgumentParser(add_help=False)
    kafka.add_argument("--topic-prefix", default="", metavar="PREFIX", help="before every topic name")

    parser = argparse.ArgumentParser(
        prog="scrapeguard review", description="Analyst review console.", formatter_class=HelpFormatter
    )
    commands = parser.add_subparsers(dest="command", required=True)

    def command(where: Any, name: str, help: str, parents: tuple[argparse.ArgumentParser, ...] = ()) -> Any:
        return where.add_parser(name, parents=list(parents), help=help, description=help, formatter_class=HelpFormatter)

    serve = command(commands, "serve", "run the web console", (common, kafka))
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on")
    serve.add_argument("--port", type=int, default=8000, help="port to listen on")
    serve.add_argument("--threads", type=int, default=8, help="request threads")
    serve.add_argument(
        "--bootstrap-servers",
        metavar="HOST:PORT",
        help="follow the decisions and access-logs topics; send verdicts to the verdicts topic",
    )
    serve.add_argument("--verdicts", metavar="PATH", help="embedded mode: append verdicts to this JSON Lines file")
    serve.add_argument(
        "--clock",
        choices=("event", "wall"),
        default="event",
        help="event time of a verdict: the newest event time read, or the wall clock",
    )
    serve.set_defaults(handler=_serve)

    ingest = command(commands, "ingest", "embedded mode: read decision and event files", (common,))
    ingest.add_argument("--decisions", nargs="+", required=True, metavar="PATH", help="v1 decisions, JSON Lines")
    ingest.add_argument("--events", nargs="+", metavar="PATH", help="v1 JSON Lines or combined logs, .gz allowed")
    ingest.set_defaults(handler=_ingest)

    feed = command(commands, "feed", "streaming mode: follow decisions and access-logs", (common, kafka))
    feed.add_argument("--bootstrap-servers", required=True, metavar="HOST:PORT")
    feed.add_argument("--until-end", action="store_true", help="stop at the end offsets seen at start")
    feed.set_defaults(handler=_feed)

    purge = command(commands, "purge", "delete stored events older than --keep, except held cases' evidence", (common,))
    purge.add_argument("--keep", required=True, metavar="DURATION", help="e.g. 30d: how long events are kept")
    purge.set_defaults(handler=_purge)

    erase = command(commands, "erase", "delete the stored requests of accounts or addresses now", (common,))
    erase.add_argument("subjects", nargs="+", metavar="account:ID|ip:ADDRESS")
    erase.set_defaults(handler=_erase)

    user = command(commands, "user", "manage console accounts")
    actions = user.add_subparsers(dest="action", required=True)
    add = command(actions, "add", "add a user", (common,))
    add.add_argument("name")
    add.add_argument("--role", choices=ROLES, required=True)
    add.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    set_role = command(actions, "set-role", "change a user's role (and enable it)", (common,))
    set_role.add_argument("name")
    set_role.add_argument("role", choices=ROLES)
    disable = command(actions, "disable", "disable a user and end its sessions", (common,))
    disable.add_argument("name")
    user.set_defaults(handler=_user)
    return parser
