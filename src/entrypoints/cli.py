"""The ``videoplatform`` console command."""

from __future__ import annotations

import argparse
import getpass
import os
import sys
import time
from collections.abc import Sequence
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from videoplatform.adapters.sql import migrate
from videoplatform.adapters.sql.audit_verify import verify_audit_trail
from videoplatform.adapters.sql.engine import create_database_engine
from videoplatform.application.resumable import ResumableUploadService
from videoplatform.application.users import RegisterUser
from videoplatform.domain.errors import DomainError
from videoplatform.entrypoints.bootstrap import create_platform
from videoplatform.entrypoints.persistence import database_url
from videoplatform.entrypoints.settings import ConfigurationError, Settings, masked_url


def _version() -> str:
    try:
        return version("videoplatform")
    except PackageNotFoundError:  # running from a source tree without installing
        return "unknown"


def _check(_: argparse.Namespace) -> int:
    """Validate the environment's settings and wire a platform from them."""
    settings = Settings.from_env()
    with create_platform(settings):
        pass
    print("settings are valid; the platform wires up with:")
    shown = {
        "database": database_url(settings),
        "storage": settings.storage_url or f"{Path(settings.data_dir).resolve() / 'objects'}",
        "queue": settings.queue_url,
        "cache": settings.cache_url,
        "mail": masked_url(settings.mail_url),
        "media": settings.media_backend,
    }
    for name, value in shown.items():
        print(f"  {name:<9} {value}")
    print("\nevery setting, by section (VIDEOPLATFORM_<NAME>):")
    for section, values in settings.by_section().items():
        print(f"  [{section}]")
        for setting, current in values.items():
            print(f"    {setting.upper():<32} {current}")
    return 0


def _sql_url() -> str:
    url = database_url(Settings.from_env())
    if url.startswith("memory:"):
        raise ConfigurationError("the in-memory database has no schema to migrate or verify")
    return url


def _db_top(args: argparse.Namespace) -> int:
    """Print the heaviest statements, or why they cannot be read and how to fix it."""
    from videoplatform.adapters.sql.statistics import StatisticsUnavailable, heaviest_statements

    engine = create_database_engine(_sql_url(), statement_timeout_ms=0)
    try:
        top = heaviest_statements(engine, max(1, args.limit))
    except StatisticsUnavailable as why:
        print(f"videoplatform: {why}", file=sys.stderr)
        return 1
    finally:
        engine.dispose()
    print(f"{'total ms':>12} {'calls':>9} {'mean ms':>10} {'rows':>9}  statement")
    for row in top:
        shape = " ".join(row.statement.split())
        print(
            f"{row.total_ms:12.1f} {row.calls:9d} {row.mean_ms:10.2f} {row.rows:9d}  {shape[:200]}"
        )
    return 0


def _migrate(args: argparse.Namespace) -> int:
    url = _sql_url()
    if args.action == "history":
        for revision, down, message in migrate.history():
            print(f"{down or 'base'} -> {revision}: {message.splitlines()[0] if message else ''}")
        return 0
    engine = create_database_engine(url, statement_timeout_ms=0)
    try:
        if args.action == "upgrade":
            migrate.upgrade(engine, args.revision or "head")
        elif args.action == "downgrade":
            if not args.revision:
                print("videoplatform: downgrade needs a revision (or 'base')", file=sys.stderr)
                return 2
            migrate.downgrade(engine, args.revision)
        current = migrate.current(engine)
        head = migrate.head()
        state = "up to date" if current == head else f"head is {head}"
        print(f"database at revision {current or 'base'} ({state})")
        return 0
    finally:
        engine.dispose()


def _audit_verify(_: argparse.Namespace) -> int:
    url = _sql_url()
    engine = create_database_engine(url, statement_timeout_ms=0)
    try:
        report = verify_audit_trail(engine)
    finally:
        engine.dispose()
    if report.intact:
        print(f"audit trail intact: {report.checked} events verified")
        return 0
    print(
        f"audit trail BROKEN at event {report.broken_at} (after {report.checked} verified events)",
        file=sys.stderr,
    )
    return 1


def _createadmin(args: argparse.Namespace) -> int:
    password = os.environ.get("VIDEOPLATFORM_ADMIN_PASSWORD")
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    if not password:
        password = getpass.getpass("password for the new administrator: ")
    with create_platform(Settings.from_env()) as platform:
        user = platform.users.create_admin(RegisterUser(args.email, password, args.name))
    print(f"administrator {user.email} created (id {user.id})")
    return 0


def _uploads_sweep(_: argparse.Namespace) -> int:
    with create_platform(Settings.from_env()) as platform:
        uploads = platform.resolve(ResumableUploadService)
        removed = uploads.sweep()
        partial = uploads.sweep_partial_writes()
    print(f"removed {removed} expired upload(s)")
    print(f"removed {partial} partial write(s) left in storage by interrupted uploads")
    return 0


def _search_reindex(_: argparse.Namespace) -> int:
    """Index every video again, with a progress bar on standard error."""
    with create_platform(Settings.from_env()) as platform:
        started = time.monotonic()

        def progress(done: int, total: int) -> None:
            width = 30
            filled = width * done // max(1, total)
            bar = "#" * filled + "." * (width - filled)
            print(f"\rindexing [{bar}] {done}/{total}", end="", file=sys.stderr, flush=True)

        count = platform.search.reindex(progress)
        if count:
            print(file=sys.stderr)
    print(f"indexed {count} video(s) in {time.monotonic() - started:.1f} s")
    return 0


def _serve(args: argparse.Namespace) -> int:
    """Run the HTTP API under gunicorn until SIGTERM or Ctrl+C."""
    # Imported here: the other commands need neither Falcon nor gunicorn.
    from videoplatform.entrypoints.http.server import ServeOptions, serve
    from videoplatform.entrypoints.logging import configure_logging

    configure_logging(json=args.log_format == "json", level=args.log_level)
    settings = Settings.from_env()
    options = ServeOptions.from_settings(
        settings,
        bind=args.bind,
        workers=args.workers,
        threads=args.threads,
        timeout=args.timeout,
        graceful_timeout=args.graceful_timeout,
        log_level=args.log_level,
    )
    return serve(settings, options)


def _positive(text: str) -> int:
    try:
        number = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if number < 1:
        raise argparse.ArgumentTypeError(f"{text} is not at least 1")
    return number


def _add_serve(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    serving = commands.add_parser(
        "serve",
        help="run the HTTP API (gunicorn)",
        description="Run the HTTP API under gunicorn. Settings come from VIDEOPLATFORM_* "
        "variables; these options override them for this run.",
    )
    serving.add_argument("--bind", help="HOST:PORT or unix:PATH (VIDEOPLATFORM_BIND)")
    serving.add_argument(
        "--workers", type=_positive, help="worker processes (VIDEOPLATFORM_WORKERS)"
    )
    serving.add_argument(
        "--threads",
        type=_positive,
        help="threads per worker; 1 runs the synchronous worker (VIDEOPLATFORM_THREADS)",
    )
    serving.add_argument(
        "--timeout",
        type=_positive,
        help="seconds before a silent worker is restarted (VIDEOPLATFORM_REQUEST_TIMEOUT_SECONDS)",
    )
    serving.add_argument(
        "--graceful-timeout",
        type=_positive,
        help="seconds in-flight requests get to finish on shutdown "
        "(VIDEOPLATFORM_GRACEFUL_TIMEOUT_SECONDS)",
    )
    serving.add_argument(
        "--log-format",
        choices=["json", "console"],
        default="json",
        help="json lines (default) or a console rendering for people",
    )
    serving.add_argument(
        "--log-level", choices=["debug", "info", "warning", "error"], default="info"
    )
    serving.set_defaults(run=_serve)


def _worker(args: argparse.Namespace) -> int:
    """Run the outbox relay and job consumers until SIGTERM or Ctrl+C; or, with the
    ``check`` action, report whether a running worker's heartbeat is fresh."""
    from videoplatform.entrypoints.worker import run_worker, worker_check

    if args.action == "check":
        return worker_check(args.heartbeat, args.max_age)
    from videoplatform.entrypoints.logging import configure_logging

    configure_logging(json=args.log_format == "json", level=args.log_level)
    return run_worker(
        Settings.from_env(),
        concurrency=args.concurrency,
        relay=not args.no_relay,
        heartbeat=args.heartbeat,
        grace_seconds=args.grace,
    )


def _add_worker(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    working = commands.add_parser(
        "worker",
        help="run background jobs (video processing) and the outbox relay",
        description="Consume jobs from VIDEOPLATFORM_QUEUE_URL with N threads and relay "
        "the outbox to the queue. SIGTERM or Ctrl+C stops taking jobs and lets running "
        "ones finish within --grace seconds. 'worker check' exits 0 while the heartbeat "
        "file is fresh, 1 otherwise (a liveness probe).",
    )
    working.add_argument("action", nargs="?", choices=["run", "check"], default="run")
    working.add_argument("--concurrency", type=_positive, default=1, help="consumer threads")
    working.add_argument(
        "--no-relay", action="store_true", help="do not relay the outbox from this process"
    )
    working.add_argument("--heartbeat", type=Path, help="file touched while the worker is healthy")
    working.add_argument(
        "--max-age",
        type=_positive,
        default=60,
        help="check: seconds after which a heartbeat is stale (default 60)",
    )
    working.add_argument(
        "--grace",
        type=_positive,
        default=60,
        help="seconds running jobs get to finish on shutdown (default 60); a job still "
        "running after that goes back to the queue",
    )
    working.add_argument(
        "--log-format", choices=["json", "console"], default="json", help="log rendering"
    )
    working.add_argument(
        "--log-level", choices=["debug", "info", "warning", "error"], default="info"
    )
    working.set_defaults(run=_worker)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="videoplatform", description=__doc__)
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    commands = parser.add_subparsers(dest="command", required=True)

    commands.add_parser("check", help="validate settings and wire the platform").set_defaults(
        run=_check
    )

    migrating = commands.add_parser("migrate", help="apply or inspect database migrations")
    migrating.add_argument("action", choices=["upgrade", "downgrade", "current", "history"])
    migrating.add_argument("revision", nargs="?", help="target revision (default: head)")
    migrating.set_defaults(run=_migrate)

    audit = commands.add_parser("audit", help="audit trail tools")
    audit.add_argument("action", choices=["verify"], help="check the hash chain")
    audit.set_defaults(run=_audit_verify)

    admin = commands.add_parser("createadmin", help="create an administrator account")
    admin.add_argument("--email", required=True)
    admin.add_argument("--name", default="Administrator")
    admin.add_argument(
        "--password-stdin", action="store_true", help="read the password from standard input"
    )
    admin.set_defaults(run=_createadmin)

    database = commands.add_parser("db", help="database tools")
    database.add_argument(
        "action",
        choices=["top"],
        help="the statements that took the most time (PostgreSQL's pg_stat_statements)",
    )
    database.add_argument("--limit", type=int, default=20, help="how many (default 20)")
    database.set_defaults(run=_db_top)

    uploads = commands.add_parser("uploads", help="resumable upload tools")
    uploads.add_argument(
        "action",
        choices=["sweep"],
        help="remove expired uploads and their bytes, and partial writes of interrupted ones",
    )
    uploads.set_defaults(run=_uploads_sweep)

    searching = commands.add_parser("search", help="search index tools")
    searching.add_argument(
        "action",
        choices=["reindex"],
        help="index every video again from the database (safe while the platform runs)",
    )
    searching.set_defaults(run=_search_reindex)

    _add_serve(commands)
    _add_worker(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        code: int = args.run(args)
    except ConfigurationError as exc:
        print(f"videoplatform: configuration error: {exc}", file=sys.stderr)
        return 2
    except DomainError as exc:
        print(f"videoplatform: {exc.code}: {exc}", file=sys.stderr)
        return 1
    return code


if __name__ == "__main__":
    raise SystemExit(main())
