"""`pdi`: the command line of Catalogue PDI."""

from pathlib import Path
from typing import Annotated

import typer
from sqlmodel import Session

from app.auth.models import Role
from app.core.config import get_settings
from app.core.db import get_engine

cli = typer.Typer(help="Catalogue PDI: serve the API and manage its data.", no_args_is_help=True)
keys_cli = typer.Typer(help="API keys: create, revoke, list.", no_args_is_help=True)
cli.add_typer(keys_cli, name="keys")


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
    """Serve the API with uvicorn."""
    import uvicorn

    workers = workers or get_settings().workers
    if reload and workers > 1:
        typer.echo("error: --reload runs one process; drop --workers or --reload", err=True)
        raise typer.Exit(2)
    # One process per core serves requests in parallel: a request holds the GIL while it builds
    # its answer, so threads in one process would not.
    uvicorn.run(
        "app.main:app",
        host=host,
        port=port,
        reload=reload,
        workers=workers,
        log_level=get_settings().log_level.lower(),
    )


@keys_cli.command("create")
def keys_create(
    role: Annotated[Role, typer.Option(help="admin, reader, portal or operator")],
    name: Annotated[str, typer.Option(help="Who or what holds the key")],
    operator_id: Annotated[
        int | None, typer.Option("--operator-id", help="The operator an operator key is bound to")
    ] = None,
) -> None:
    """Create an API key; the key is printed once, alone on the last line."""
    from app.auth.service import create_key
    from app.core.errors import AppError

    with Session(get_engine()) as session:
        try:
            row, key = create_key(session=session, role=role, name=name, operator_id=operator_id)
        except AppError as exc:
            typer.echo(f"error: {exc.detail}", err=True)
            raise typer.Exit(1) from exc
        session.commit()
        typer.echo(f"created key {row.id} ({row.role}) for {row.name!r}; it will not be shown again:")
        typer.echo(key)


@keys_cli.command("revoke")
def keys_revoke(key_id: Annotated[int, typer.Argument(help="The key's id, as `pdi keys list` shows it")]) -> None:
    """Revoke an API key: it is refused from now on."""
    from app.auth.service import revoke_key
    from app.core.errors import AppError

    with Session(get_engine()) as session:
        try:
            row = revoke_key(session=session, key_id=key_id)
        except AppError as exc:
            typer.echo(f"error: {exc.detail}", err=True)
            raise typer.Exit(1) from exc
        session.commit()
        typer.echo(f"revoked key {row.id} ({row.name!r})")


@keys_cli.command("list")
def keys_list() -> None:
    """List API keys (never the keys themselves)."""
    from sqlmodel import select

    from app.auth.models import ApiKey

    with Session(get_engine()) as session:
        for row in session.exec(select(ApiKey).order_by(ApiKey.id)):
            state = "revoked" if row.revoked_at else "active"
            bound = f" operator={row.operator_id}" if row.operator_id else ""
            typer.echo(f"{row.id}\t{row.role}{bound}\t{state}\t{row.prefix}…\t{row.name}")


@cli.command()
def seed() -> None:
    """Load the catalogue of the bilan (families, actions, operators, conventions); idempotent."""
    from seed.loader import load_catalogue

    with Session(get_engine()) as session:
        report = load_catalogue(session=session)
        session.commit()
    typer.echo(report)


@cli.command()
def demo(
    scale: Annotated[int, typer.Option(min=1, help="Multiply the population (100 gives about a million pathways)")] = 1,
) -> None:
    """Generate the synthetic pathways 2018–2020 that reproduce the bilan's figures (fixed seed)."""
    from seed.demo import generate_demo

    with Session(get_engine()) as session:
        report = generate_demo(session=session, scale=scale, progress=True)
        session.commit()
    typer.echo(report)


@cli.command()
def bootstrap(
    with_demo: Annotated[bool, typer.Option("--demo/--no-demo", help="Load the demo pathways on first start")] = True,
) -> None:
    """First start of a local instance: migrate, seed and demo once, and a local admin key."""
    from sqlmodel import select

    from app.auth.models import ApiKey
    from app.auth.service import create_key
    from app.catalogue.models import Family
    from app.core.migrate import upgrade_head
    from app.pathways.models import Pathway
    from seed.demo import generate_demo
    from seed.loader import load_catalogue

    settings = get_settings()
    settings.var_dir.mkdir(parents=True, exist_ok=True)
    upgrade_head()
    with Session(get_engine()) as session:
        # Once only: later starts keep what staff changed (`pdi seed` re-applies the files on demand).
        if session.exec(select(Family.id).limit(1)).first() is None:
            typer.echo(load_catalogue(session=session))
            session.commit()
        has_pathways = session.exec(select(Pathway.id).limit(1)).first() is not None
        if with_demo and not has_pathways:
            typer.echo(generate_demo(session=session, scale=1, progress=True))
            session.commit()

    key_file = local_admin_key_file()
    with Session(get_engine()) as session:
        key_id = int(key_file.read_text().split()[0]) if key_file.exists() else None
        stored = session.get(ApiKey, key_id) if key_id else None
        if stored is None or stored.revoked_at is not None:
            row, key = create_key(session=session, role=Role.admin, name="local admin (pdi bootstrap)")
            session.commit()
            key_file.write_text(f"{row.id} {key}\n")
            key_file.chmod(0o600)
    key = key_file.read_text().split()[1]
    typer.echo(f"local admin key (kept in {key_file}); press Authorize in http://127.0.0.1:8000/docs:")
    typer.echo(key)


def local_admin_key_file() -> Path:
    return get_settings().var_dir / "admin.key"


if __name__ == "__main__":
    cli()
