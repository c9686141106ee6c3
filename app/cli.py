"""`pdi`: the command line of Catalogue PDI."""

from importlib import metadata
from pathlib import Path
from typing import Annotated

import click
import typer
from sqlalchemy.engine import make_url
from sqlalchemy.exc import InterfaceError, OperationalError
from typer.core import TyperGroup

import app.models  # noqa: F401  (every table, so that the foreign keys between them resolve)
from app.auth.models import Role
from app.cli_access import keys_cli, people_cli
from app.core.config import get_settings
from app.core.db import PdiSession
from app.core.engines import get_engine
from app.core.logging import configure_logging
from app.outbox.capture import install_feed_capture

PACKAGE = "catalogue-pdi"


class Commands(TyperGroup):
    """Every command: a database that cannot be reached (down, wrong address, a SQLite file that
    cannot be opened) is one line on stderr and exit status 1, not a traceback."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except (OperationalError, InterfaceError) as exc:
            typer.echo(f"error: cannot use the database {database_shown()}: {first_line(exc.orig)}", err=True)
            raise typer.Exit(1) from None


def database_shown() -> str:
    return make_url(get_settings().database_url).render_as_string(hide_password=True)


def first_line(error: BaseException | None) -> str:
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    return lines[0] if lines else type(error).__name__


def package_version() -> str:
    try:
        return metadata.version(PACKAGE)
    except metadata.PackageNotFoundError:  # run from a source tree that was never installed
        return "unknown"


cli = typer.Typer(help="Catalogue PDI: serve the API and manage its data.", no_args_is_help=True, cls=Commands)
cli.add_typer(keys_cli, name="keys")
cli.add_typer(people_cli, name="people")


def print_version(asked: bool) -> None:
    if asked:
        typer.echo(f"pdi {package_version()}")
        raise typer.Exit()


@cli.callback()
def main(
    version: Annotated[
        bool, typer.Option("--version", callback=print_version, is_eager=True, help="Print the version and exit")
    ] = False,
) -> None:
    configure_logging(get_settings())
    install_feed_capture()


@cli.command()
def migrate() -> None:
    """Bring the database schema to the latest version (alembic upgrade head)."""
    from app.core.migrate import upgrade_head

    upgrade_head()
    typer.echo("database schema is up to date")


@cli.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on")] = 8000,
    reload: Annotated[bool, typer.Option(help="Restart on code changes (development)")] = False,
    workers: Annotated[
        int | None,
        typer.Option(min=1, help="Worker processes, each with its own connection pool (default PDI_WORKERS, or 1)"),
    ] = None,
) -> None:
    """Serve the API with uvicorn (refused beyond this machine with the default secret key)."""
    import uvicorn

    from app.core.config import refuse_default_secret_off_loopback

    settings = get_settings()
    try:
        refuse_default_secret_off_loopback(settings, host)
    except RuntimeError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from exc
    workers = workers or settings.workers
    if reload and workers > 1:
        typer.echo("error: --reload runs one process; drop --workers or --reload", err=True)
        raise typer.Exit(2)
    if workers > 1 and settings.rate_limit_storage.startswith("memory"):
        # Each process would count on its own: limits N times looser than configured.
        typer.echo(
            f"warning: {workers} workers count rate limits each in its own memory; "
            "set PDI_RATE_LIMIT_STORAGE to a shared store (e.g. redis://127.0.0.1:6379)",
            err=True,
        )
    worker = in_process_worker(settings)
    # One process per core serves requests in parallel: a request holds the GIL while it builds
    # its answer, so threads in one process would not.
    from app.core.server import HeaderTimeoutH11Protocol

    uvicorn.run(
        "app.main:app",
        host=host,
        port=port,
        reload=reload,
        workers=workers,
        # Request heads bounded in size and in time (app/core/server.py).
        http=HeaderTimeoutH11Protocol,
        h11_max_incomplete_event_size=settings.max_header_bytes,
        timeout_keep_alive=5,
        log_level=settings.log_level.lower(),
        server_header=False,  # no banner naming the server software
        # uvicorn keeps its hands off logging: its lines (the access log included) go through
        # configure_logging's format, as the application's do.
        log_config=None,
    )
    if worker is not None:
        worker.stop.set()


def in_process_worker(settings):
    """The worker as threads of `pdi serve` (PDI_WORKER_IN_PROCESS; unset: on SQLite only), so that
    `make run` delivers webhooks and runs the periodic jobs without a second command. It lives in
    the process that `pdi serve` starts (uvicorn's supervisor when there are several workers)."""
    import threading

    from app.jobs import periodic_jobs
    from app.webhooks.worker import Worker

    wanted = settings.worker_in_process if settings.worker_in_process is not None else settings.is_sqlite
    if not wanted:
        return None
    worker = Worker(engine=get_engine(), settings=settings, jobs=periodic_jobs(settings))
    threading.Thread(target=worker.run, name="pdi-worker", daemon=True).start()
    return worker


@cli.command()
def worker(
    concurrency: Annotated[int, typer.Option(min=1, max=64, help="Endpoints delivered to at once")] = 4,
    once: Annotated[bool, typer.Option("--once", help="Deliver what is due, run the jobs once, and exit")] = False,
) -> None:
    """Deliver webhooks and run the periodic jobs until SIGTERM or SIGINT (SPEC C8)."""
    import signal

    from app.jobs import periodic_jobs
    from app.webhooks.worker import Worker

    settings = get_settings()
    worker = Worker(engine=get_engine(), settings=settings, concurrency=concurrency, jobs=periodic_jobs(settings))
    if once:
        worker.run_due_jobs()
        typer.echo(f"worker: {worker.run_once()} delivery attempts")
        return

    def stop(signum, _frame) -> None:
        typer.echo(f"worker: {signal.Signals(signum).name}, finishing the deliveries in flight", err=True)
        worker.stop.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    typer.echo(f"worker: delivering webhooks ({concurrency} at once) on {database_shown()}", err=True)
    worker.run()
    typer.echo("worker: stopped", err=True)


@cli.command()
def openapi() -> None:
    """Print the OpenAPI document (`pdi openapi > docs/openapi.json` refreshes the committed copy)."""
    import json

    from app.main import create_app

    typer.echo(json.dumps(create_app(get_settings()).openapi(), indent=2, ensure_ascii=False, sort_keys=True))


@cli.command()
def seed() -> None:
    """Load the catalogue of the bilan (families, actions, operators, conventions); idempotent."""
    from app.core.errors import AppError
    from seed.data import SeedDataError
    from seed.loader import CATALOGUE_TABLES, load_catalogue

    with PdiSession(get_engine()) as session:
        try:
            report = load_catalogue(session=session)
        except (AppError, SeedDataError) as exc:  # refused: nothing is committed
            where = "".join(f" ({note})" for note in getattr(exc, "__notes__", ()))
            typer.echo(f"error: {exc.detail if isinstance(exc, AppError) else exc}{where}", err=True)
            raise typer.Exit(1) from exc
        session.commit()
    analyze_tables(CATALOGUE_TABLES)
    typer.echo(report)


def analyze_tables(tables) -> None:
    """After a bulk load: the planner's statistics of the tables it filled (PostgreSQL only)."""
    from app.core.sql import analyze

    with PdiSession(get_engine()) as session:
        analyze(session, tables)
        session.commit()


@cli.command()
def check() -> None:
    """Verify the database: seat counters against a recount, the change feed against the tables,
    migrations at head (exit status 1 and the differences); warn of tables never analysed."""
    from app.integrity import check_database

    with PdiSession(get_engine()) as session:
        report = check_database(session)
    for warning in report.warnings:
        typer.echo(f"warning: {warning}", err=True)
    for error in report.errors:
        typer.echo(f"error: {error}", err=True)
    if report.errors:
        typer.echo(f"{database_shown()}: {len(report.errors)} difference(s)", err=True)
        raise typer.Exit(1)
    typer.echo(f"{database_shown()}: ok ({', '.join(report.passed)})")


@cli.command()
def demo(
    scale: Annotated[int, typer.Option(min=1, help="Multiply the population (100 gives about a million pathways)")] = 1,
) -> None:
    """Generate the synthetic pathways 2018–2020 that reproduce the bilan's figures (fixed seed)."""
    from seed.demo.writer import DEMO_TABLES, generate_demo
    from seed.loader import CATALOGUE_TABLES

    with PdiSession(get_engine()) as session:
        report = generate_demo(session=session, scale=scale, progress=True)
        session.commit()
    analyze_tables((*CATALOGUE_TABLES, *DEMO_TABLES))
    typer.echo(report)


@cli.command()
def retention(
    ended_before: Annotated[
        str | None,
        typer.Option(
            "--ended-before",
            metavar="YYYY-MM-DD",
            help="Detach pathways that ended before this day (default: PDI_RETENTION_YEARS years ago)",
        ),
    ] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Count what would be detached; change nothing")] = False,
) -> None:
    """Forget who followed pathways that ended long ago (RGPD): every figure stays the same."""
    import re
    from datetime import date

    from app.core.caller import CLI
    from app.core.engines import writer_engine
    from app.core.errors import AppError
    from app.pathways.retention import apply_retention, default_cut_off

    if ended_before is None:
        day = default_cut_off(years=get_settings().retention_years)
    elif re.fullmatch(r"\d{4}-\d{2}-\d{2}", ended_before):
        try:
            day = date.fromisoformat(ended_before)
        except ValueError as exc:
            typer.echo(f"error: {ended_before} is not a day", err=True)
            raise typer.Exit(2) from exc
    else:
        typer.echo("error: --ended-before takes a day as YYYY-MM-DD", err=True)
        raise typer.Exit(2)
    with PdiSession(writer_engine(get_engine())) as session:
        try:
            report = apply_retention(session=session, caller=CLI, ended_before=day, dry_run=dry_run)
        except AppError as exc:
            typer.echo(f"error: {exc.detail}", err=True)
            raise typer.Exit(1) from exc
        session.commit()
    typer.echo(report)


@cli.command()
def expire() -> None:
    """Expire the prescriptions left unanswered (PDI_DECISION_DAYS) or waiting (PDI_WAITLIST_DAYS) too long, once."""
    from app.core.engines import writer_engine
    from app.core.time import today
    from app.pathways.expiry import expire_prescriptions

    with PdiSession(writer_engine(get_engine())) as session:
        counts = expire_prescriptions(session=session, today=today())
        session.commit()
    typer.echo(counts)


@cli.command()
def bootstrap(
    with_demo: Annotated[bool, typer.Option("--demo/--no-demo", help="Load the demo pathways on first start")] = True,
    port: Annotated[int, typer.Option(help="The port `pdi serve` will listen on, for the address printed")] = 8000,
) -> None:
    """First start of a local instance: migrate, seed and demo once, and a local admin key."""
    from sqlmodel import select

    from app.catalogue.models import Family
    from app.core.migrate import upgrade_head
    from app.pathways.models import Pathway
    from seed.demo.writer import DEMO_TABLES, generate_demo
    from seed.loader import CATALOGUE_TABLES, load_catalogue

    settings = get_settings()
    settings.var_dir.mkdir(parents=True, exist_ok=True)
    upgrade_head()
    with PdiSession(get_engine()) as session:
        # Once only: later starts keep what staff changed (`pdi seed` re-applies the files on demand).
        if session.exec(select(Family.id).limit(1)).first() is None:
            typer.echo(load_catalogue(session=session))
            session.commit()
        has_pathways = session.exec(select(Pathway.id).limit(1)).first() is not None
        if with_demo and not has_pathways:
            typer.echo(generate_demo(session=session, scale=1, progress=True))
            session.commit()
    analyze_tables((*CATALOGUE_TABLES, *DEMO_TABLES))

    print_local_admin_key(port)


@cli.command()
def init(
    port: Annotated[int, typer.Option(help="The port `pdi serve` will listen on, for the address printed")] = 8000,
) -> None:
    """First start for any département (PDI_DEPARTEMENT_*): migrate, the families, a local admin key.

    No operator, convention or demo data: the département enters its own (the API, or POST
    /imports/data-inclusion/structures for its operators). `make run` is the Sarthe's demo instead.
    """
    from app.core.migrate import upgrade_head
    from seed.loader import load_families_only

    settings = get_settings()
    settings.var_dir.mkdir(parents=True, exist_ok=True)
    upgrade_head()
    with PdiSession(get_engine()) as session:
        typer.echo(load_families_only(session=session))
        session.commit()
    typer.echo(f"département {settings.departement_code} ({settings.departement_name}), source {settings.source}")
    print_local_admin_key(port)


def print_local_admin_key(port: int) -> None:
    """Create the local admin key once (kept in var/admin.key, renewed when revoked) and print it."""
    from app.auth.models import ApiKey
    from app.auth.service import create_key
    from app.core.time import utcnow

    key_file = local_admin_key_file()
    with PdiSession(get_engine()) as session:
        key_id = int(key_file.read_text().split()[0]) if key_file.exists() else None
        stored = session.get(ApiKey, key_id) if key_id else None
        if stored is None or not stored.is_usable(utcnow()):
            row, key = create_key(session=session, role=Role.admin, name="local admin (pdi bootstrap)")
            session.commit()
            key_file.write_text(f"{row.id} {key}\n")
            key_file.chmod(0o600)
    key = key_file.read_text().split()[1]
    typer.echo(f"local admin key (kept in {key_file}); press Authorize in http://127.0.0.1:{port}/docs:")
    typer.echo(key)


def local_admin_key_file() -> Path:
    return get_settings().var_dir / "admin.key"


if __name__ == "__main__":
    cli()
