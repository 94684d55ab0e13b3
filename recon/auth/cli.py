"""`recon apikeys create/list/revoke` and `recon users create` (DESIGN 6)."""

from __future__ import annotations

import sys

import click

from recon.clitools import json_option, parse_id, print_json, with_session
from recon.clock import utcnow


@click.group()
def apikeys() -> None:
    """API keys for the services that call recon."""


@apikeys.command("create")
@click.option("--name", required=True)
@click.option("--scope", "scopes", multiple=True, help="Repeat for several scopes.")
@json_option
@click.pass_context
def apikeys_create(ctx: click.Context, name: str, scopes: tuple[str, ...], as_json: bool) -> None:
    """Create a key; it is printed once and never again."""
    from recon.auth import service

    key = with_session(
        ctx,
        lambda s: service.create_api_key(
            db_session=s, name=name, scopes=list(scopes), now=utcnow()
        ),
    )
    if as_json:
        print_json(key)
    else:
        click.echo(f"API key {key.id} ({key.name}; {' '.join(key.scopes)}). Shown once:")
        click.echo(key.key)


@apikeys.command("list")
@json_option
@click.pass_context
def apikeys_list(ctx: click.Context, as_json: bool) -> None:
    """List keys (never their secrets)."""
    from recon.auth import service

    keys = with_session(ctx, lambda s: service.list_api_keys(db_session=s), read_only=True)
    if as_json:
        print_json(keys)
        return
    for k in keys:
        state = "revoked" if k.revoked_at else "active"
        click.echo(f"{k.id:>4}  {k.name:<24} {state:<8} {' '.join(k.scopes)}")


@apikeys.command("revoke")
@click.argument("key_id")
@json_option
@click.pass_context
def apikeys_revoke(ctx: click.Context, key_id: str, as_json: bool) -> None:
    """Revoke a key by its id."""
    from recon.auth import service

    number = parse_id(key_id, "KEY_ID")
    key = with_session(
        ctx, lambda s: service.revoke_api_key(db_session=s, key_id=number, now=utcnow())
    )
    print_json(key) if as_json else click.echo(f"API key {key.id} ({key.name}) revoked")


@click.group()
def users() -> None:
    """Accounts for the people who use the web UI and close days."""


@users.command("create")
@click.option("--username", required=True)
@click.option("--role", required=True, help="accountant, approver, viewer or admin")
@json_option
@click.pass_context
def users_create(ctx: click.Context, username: str, role: str, as_json: bool) -> None:
    """Create an account; the password is read from stdin."""
    from recon.auth import service

    password = sys.stdin.readline().rstrip("\r\n")
    user = with_session(
        ctx,
        lambda s: service.create_user(
            db_session=s, username=username, role=role, password=password, now=utcnow()
        ),
    )
    print_json(user) if as_json else click.echo(f"user {user.username} ({user.role}) created")
