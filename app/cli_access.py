"""`pdi keys` and `pdi people`: who may use the API, API keys and people's memberships."""

from typing import Annotated

import typer

from app.auth.models import Role
from app.core.db import PdiSession
from app.core.engines import get_engine

keys_cli = typer.Typer(help="API keys: create, rotate, revoke, list.", no_args_is_help=True)
people_cli = typer.Typer(help="People signed in with the identity provider: memberships.", no_args_is_help=True)


@keys_cli.command("create")
def keys_create(
    role: Annotated[Role, typer.Option(help="admin, reader, portal or operator")],
    name: Annotated[str, typer.Option(help="Who or what holds the key")],
    operator_id: Annotated[
        int | None, typer.Option("--operator-id", help="The operator an operator key is bound to")
    ] = None,
    expires_in: Annotated[
        int | None, typer.Option("--expires-in", min=1, help="Days until the key is refused (default: never)")
    ] = None,
) -> None:
    """Create an API key; the key is printed once, alone on the last line."""
    from app.auth.service import create_key
    from app.core.errors import AppError

    with PdiSession(get_engine()) as session:
        try:
            row, key = create_key(
                session=session, role=role, name=name, operator_id=operator_id, expires_in_days=expires_in
            )
        except AppError as exc:
            typer.echo(f"error: {exc.detail}", err=True)
            raise typer.Exit(1) from exc
        session.commit()
        expiry = f", expires {_moment(row.expires_at)}" if row.expires_at else ""
        typer.echo(f"created key {row.id} ({row.role}) for {row.name!r}{expiry}; it will not be shown again:")
        typer.echo(key)


@keys_cli.command("rotate")
def keys_rotate(
    key_id: Annotated[int, typer.Argument(help="The key's id, as `pdi keys list` shows it")],
    grace_days: Annotated[
        int, typer.Option("--grace-days", min=0, help="Days the old key still works, for its holder to switch")
    ] = 7,
    expires_in: Annotated[
        int | None, typer.Option("--expires-in", min=1, help="Days until the new key is refused (default: never)")
    ] = None,
) -> None:
    """A new key for the same holder, role and operator; the old one expires after the grace period.
    The new key is printed once, alone on the last line."""
    from app.auth.service import rotate_key
    from app.core.errors import AppError

    with PdiSession(get_engine()) as session:
        try:
            old, new, key = rotate_key(
                session=session, key_id=key_id, grace_days=grace_days, expires_in_days=expires_in
            )
        except AppError as exc:
            typer.echo(f"error: {exc.detail}", err=True)
            raise typer.Exit(1) from exc
        session.commit()
        typer.echo(f"key {old.id} ({old.name!r}) now expires {_moment(old.expires_at)}")
        typer.echo(f"created key {new.id} ({new.role}) to replace it; it will not be shown again:")
        typer.echo(key)


@keys_cli.command("revoke")
def keys_revoke(key_id: Annotated[int, typer.Argument(help="The key's id, as `pdi keys list` shows it")]) -> None:
    """Revoke an API key: it is refused from now on."""
    from app.auth.service import revoke_key
    from app.core.errors import AppError

    with PdiSession(get_engine()) as session:
        try:
            row = revoke_key(session=session, key_id=key_id)
        except AppError as exc:
            typer.echo(f"error: {exc.detail}", err=True)
            raise typer.Exit(1) from exc
        session.commit()
        typer.echo(f"revoked key {row.id} ({row.name!r})")


@keys_cli.command("list")
def keys_list() -> None:
    """List API keys with their state, expiry and last use (never the keys themselves)."""
    from sqlmodel import select

    from app.auth.models import ApiKey
    from app.core.time import utcnow

    now = utcnow()
    with PdiSession(get_engine()) as session:
        rows = session.exec(select(ApiKey).order_by(ApiKey.id)).all()
    typer.echo("id\trole\tstate\texpires\tlast used\tprefix\tname")  # once the keys are read
    for row in rows:
        if row.revoked_at:
            state = "revoked"
        elif row.expires_at and row.expires_at <= now:
            state = "expired"
        else:
            state = "active"
        bound = f" operator={row.operator_id}" if row.operator_id else ""
        typer.echo(
            f"{row.id}\t{row.role}{bound}\t{state}\t{_moment(row.expires_at) if row.expires_at else 'never'}"
            f"\t{_moment(row.last_used_at) if row.last_used_at else 'never'}\t{row.prefix}…\t{row.name}"
        )


@people_cli.command("grant")
def people_grant(
    role: Annotated[Role, typer.Option(help="admin, reader, portal or operator")],
    email: Annotated[str | None, typer.Option(help="One person, by email")] = None,
    subject: Annotated[str | None, typer.Option(help="One person, by the identity provider's `sub`")] = None,
    siret: Annotated[str | None, typer.Option(help="An organisation's people, by its SIRET")] = None,
    operator_id: Annotated[
        int | None, typer.Option("--operator-id", help="The operator an operator membership is bound to")
    ] = None,
    name: Annotated[str | None, typer.Option(help="Who this is, for the list")] = None,
) -> None:
    """Give a person, or an organisation's people, a role (the first admin, among others)."""
    from pydantic import ValidationError

    from app.core.caller import CLI
    from app.core.errors import AppError
    from app.people.schemas import MembershipCreate
    from app.people.service import grant

    given = {field: value for field, value in (("email", email), ("subject", subject), ("siret", siret)) if value}
    if len(given) != 1:
        typer.echo("error: give exactly one of --email, --subject, --siret", err=True)
        raise typer.Exit(2)
    try:
        data = MembershipCreate(match=given, role=role, operator_id=operator_id, name=name)
    except ValidationError as exc:
        typer.echo(f"error: {exc.errors()[0]['msg']}", err=True)
        raise typer.Exit(2) from exc
    with PdiSession(get_engine()) as session:
        try:
            row = grant(session=session, caller=CLI, data=data)
        except AppError as exc:
            typer.echo(f"error: {exc.detail}", err=True)
            raise typer.Exit(1) from exc
        session.commit()
        bound = f" for operator {row.operator_id}" if row.operator_id else ""
        typer.echo(f"membership {row.id}: {row.match_kind} {row.match_value} is {row.role}{bound}")


def _moment(moment) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC")
