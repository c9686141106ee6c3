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
) -> None:
    """Serve the API with uvicorn."""
    import uvicorn

    uvicorn.run("app.main:app", host=host, port=port, reload=reload, log_level=get_settings().log_level.lower())


@keys_cli.command("create")
def keys_create(
    role: Annotated[Role, typer.Option(help="admin, reader, portal or operator")],
    name: Annotated[str, typer.Option(help="Who or what holds the key")],
    operator_id: Annotated[int | None, typer.Option("--operator-id", help="The operator an operator key is bound to")] = None,
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


def local_admin_key_file() -> Path:
    return get_settings().var_dir / "admin.key"


if __name__ == "__main__":
    cli()
