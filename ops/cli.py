"""The `leadrelay` command line (`python -m ops`): up, migrate, keys, users, settings."""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import sys
from collections.abc import Callable
from typing import Any
from uuid import UUID

from leadrelay import accounts, migrations
from leadrelay.crypto import generate_key
from leadrelay.db import DatabaseUnavailable, connect, resolve_dsn
from leadrelay.log import setup_logging
from leadrelay.settings import Settings, SettingsError
from ops.supervisor import up
from reports_app import users


async def _with_db(settings: Settings, work: Callable[[Any], Any]) -> Any:
    dsn = await asyncio.to_thread(resolve_dsn, settings)
    con = await connect(dsn, settings=settings)
    try:
        return await work(con)
    finally:
        await con.close()


def cmd_migrate(settings: Settings, args: argparse.Namespace) -> int:
    applied = asyncio.run(_with_db(settings, migrations.migrate))
    print("\n".join(f"applied {name}" for name in applied) or "the schema is up to date")
    return 0


def cmd_keys_create(settings: Settings, args: argparse.Namespace) -> int:
    async def work(con: Any) -> str:
        await migrations.migrate(con)
        account_id = await accounts.ensure_account(con, args.account)
        return await accounts.create_key(con, account_id, args.name)

    key = asyncio.run(_with_db(settings, work))
    print(f"API key for account {args.account!r} (shown once; only its hash is stored):")
    print(key)
    return 0


def cmd_keys_revoke(settings: Settings, args: argparse.Namespace) -> int:
    prefix = args.key.split("_")[1] if args.key.startswith("lr_") else args.key
    revoked = asyncio.run(_with_db(settings, lambda con: accounts.revoke_key(con, prefix)))
    if not revoked:
        print(f"no active key with prefix {prefix!r}", file=sys.stderr)
        return 1
    print(f"revoked key lr_{prefix}_…")
    return 0


def cmd_keys_secret(settings: Settings, args: argparse.Namespace) -> int:
    print(generate_key())
    return 0


def cmd_accounts_set(settings: Settings, args: argparse.Namespace) -> int:
    see = {"yes": True, "no": False}.get(args.viewers_see_personal_data or "")
    tz = accounts.check_time_zone(args.time_zone) if args.time_zone else None

    async def work(con: Any) -> None:
        await migrations.migrate(con)
        account_id = await accounts.ensure_account(con, args.account)
        await accounts.set_console_settings(con, account_id, time_zone=tz, viewers_see_personal_data=see)

    asyncio.run(_with_db(settings, work))
    print(f"account {args.account!r} updated")
    return 0


def cmd_settings(settings: Settings, args: argparse.Namespace) -> int:
    for name, default, secret in Settings.documented():
        print(f"{name}={'(secret)' if secret else default}")
    return 0


def cmd_users_create(settings: Settings, args: argparse.Namespace) -> int:
    password = args.password or secrets.token_urlsafe(12)
    users.check_new_user(args.email, password, args.role)

    async def work(con: Any) -> UUID:
        await migrations.migrate(con)
        account_id = await accounts.ensure_account(con, args.account)
        return await users.create_user(con, account_id, args.email, password, args.role)

    asyncio.run(_with_db(settings, work))
    print(f"{args.role} {args.email} of account {args.account!r} can sign in to the reports app")
    if not args.password:
        print(f"password (shown once): {password}")
    return 0


def cmd_up(settings: Settings, args: argparse.Namespace) -> int:
    return up(settings)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="leadrelay", description="LeadRelay command line")
    sub = parser.add_subparsers(dest="command", required=True)

    sub.add_parser("up", help="start every process (embedded PostgreSQL by default) until Ctrl-C").set_defaults(
        func=cmd_up
    )
    sub.add_parser("migrate", help="apply pending SQL migrations").set_defaults(func=cmd_migrate)
    sub.add_parser("settings", help="list every setting with its default").set_defaults(func=cmd_settings)

    keys = sub.add_parser("keys", help="API keys").add_subparsers(dest="keys_command", required=True)
    create = keys.add_parser("create", help="create an API key for an account (created if new)")
    create.add_argument("--account", required=True)
    create.add_argument("--name", default="")
    create.set_defaults(func=cmd_keys_create)
    revoke = keys.add_parser("revoke", help="revoke a key (the key or its prefix)")
    revoke.add_argument("key")
    revoke.set_defaults(func=cmd_keys_revoke)
    keys.add_parser("secret", help="print a new LEADRELAY_SECRET_KEY").set_defaults(func=cmd_keys_secret)

    people = sub.add_parser("users", help="people who sign in to the reports app").add_subparsers(
        dest="users_command", required=True
    )
    user = people.add_parser("create", help="create a reports user (or reset its password and role)")
    user.add_argument("--account", required=True, help="account name (created if new)")
    user.add_argument("--email", required=True)
    user.add_argument("--role", choices=users.ROLES, default=users.VIEWER)
    user.add_argument("--password", default="", help="default: a generated one, printed once")
    user.set_defaults(func=cmd_users_create)

    accts = sub.add_parser("accounts", help="accounts").add_subparsers(dest="accounts_command", required=True)
    aset = accts.add_parser("set", help="an account's console settings (created if new)")
    aset.add_argument("--account", required=True)
    aset.add_argument("--time-zone", default="", help="IANA zone the console shows times in (default UTC)")
    aset.add_argument(
        "--viewers-see-personal-data", choices=("yes", "no"), help="otherwise masked for viewers (default no)"
    )
    aset.set_defaults(func=cmd_accounts_set)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = Settings.from_env()
    except SettingsError as exc:
        print(f"leadrelay: {exc}", file=sys.stderr)
        return 1
    setup_logging(os.environ.get("LEADRELAY_LOG_LEVEL", "WARNING"), settings.log_format)
    try:
        return int(args.func(settings, args))
    except (DatabaseUnavailable, migrations.MigrationError, RuntimeError, ValueError) as exc:
        print(f"leadrelay: {exc}", file=sys.stderr)
        return 1
