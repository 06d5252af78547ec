"""`rollcall` console script. Each subcommand says in one line what went wrong, never a traceback."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import httpx
from sqlalchemy import func, select

from common.config import ConfigError, Settings
from common.db import create_engine, migrate
from common.db.migrate import set_app_role_password
from common.db.models import User
from common.logs import configure_logging
from common.security.dev_tokens import load_or_create_dev_key, mint_dev_token
from rollcall_cli.demo_loader import load_demo_school
from rollcall_cli.register_class import RegisterClassError, register_class
from rollcall_cli.stack import resolve_database, run_stack


class CommandError(Exception):
    """A user-facing failure: printed as one line, exit status 1."""


def _run(settings: Settings, args: argparse.Namespace) -> int:
    return asyncio.run(run_stack(settings))


def _migrate(settings: Settings, args: argparse.Namespace) -> int:
    url, embedded = resolve_database(settings)
    try:
        migrate(url)
        password = os.environ.get("ROLLCALL_APP_DB_PASSWORD")
        if password:
            set_app_role_password(url, password)
    finally:
        if embedded is not None:
            embedded.stop()
    sys.stdout.write("database schema is up to date\n")
    return 0


def _demo_load(settings: Settings, args: argparse.Namespace) -> int:
    url, embedded = resolve_database(settings)

    async def load() -> str:
        engine = create_engine(url, pool_size=2)
        try:
            today = datetime.now(ZoneInfo("Asia/Manila")).date()
            result = await load_demo_school(engine, today, args.emulator_url)
        finally:
            await engine.dispose()
        return (
            f"demo school loaded: {result.users} users, {result.classes} classes, {result.enrollments} "
            f"enrollments, {result.meetings} meetings added; {result.emulator_meetings} meetings sent to the emulator\n"
        )

    try:
        migrate(url)
        sys.stdout.write(asyncio.run(load()))
    finally:
        if embedded is not None:
            embedded.stop()
    return 0


def _token(settings: Settings, args: argparse.Namespace) -> int:
    sys.stdout.write(_dev_token(settings, args.email, tuple(args.scope), args.ttl_minutes) + "\n")
    return 0


def _register_class(settings: Settings, args: argparse.Namespace) -> int:
    token = args.token or os.environ.get("ROLLCALL_TOKEN", "")
    if not token:
        if settings.auth.mode != "development":
            raise CommandError("give an admin's bearer token with --token or ROLLCALL_TOKEN")
        token = _dev_token(settings, args.email, (), 60)
    try:
        return register_class(
            args.target or settings.registration_target, token, args.class_name, args.meeting, args.request_id
        )
    except RegisterClassError as exc:
        raise CommandError(str(exc)) from None


def _dev_token(settings: Settings, email: str, scopes: tuple[str, ...], ttl_minutes: int) -> str:
    if settings.auth.mode != "development":
        raise CommandError("development tokens are refused when ROLLCALL_AUTH_MODE=production")
    url, embedded = resolve_database(settings)

    async def find() -> User | None:
        engine = create_engine(url, pool_size=1)
        try:
            async with engine.connect() as connection:
                row = (
                    await connection.execute(select(User).where(func.lower(User.email) == email.strip().lower()))
                ).first()
        finally:
            await engine.dispose()
        return None if row is None else User(id=row.id, role=row.role)

    try:
        user = asyncio.run(find())
    finally:
        if embedded is not None:
            embedded.stop()
    if user is None:
        raise CommandError("no user has that email (load the demo school with `rollcall demo load`)")
    key = settings.auth.dev_signing_key or load_or_create_dev_key(settings.data_dir)
    token = mint_dev_token(
        key,
        subject=user.id,
        role=user.role,
        issuer=settings.auth.issuer,
        audience=settings.auth.audience,
        scopes=scopes,
        ttl=timedelta(minutes=ttl_minutes),
    )
    return token


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="rollcall", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("run", help="start everything (embedded PostgreSQL and Zoom emulator by default)").set_defaults(
        handler=_run
    )
    commands.add_parser("migrate", help="bring the database schema up to date").set_defaults(handler=_migrate)
    demo = commands.add_parser("demo", help="the demo school")
    demo_commands = demo.add_subparsers(dest="demo_command", required=True)
    load = demo_commands.add_parser("load", help="load the demo school (idempotent)")
    load.add_argument(
        "--emulator-url", help="also put the demo meetings into this Zoom emulator (e.g. http://127.0.0.1:9090)"
    )
    load.set_defaults(handler=_demo_load)
    token = commands.add_parser("token", help="print a development bearer token for a user")
    token.add_argument("--email", required=True, help="the user's email")
    token.add_argument("--ttl-minutes", type=int, default=480, help="lifetime (default 480)")
    token.add_argument("--scope", action="append", default=[], help="scope for a service identity (repeatable)")
    token.set_defaults(handler=_token)
    register = commands.add_parser(
        "register-class", help="register every student of a class into its upcoming meetings, with live progress"
    )
    register.add_argument("class_name", metavar="CLASS", help="class id, or class name or section")
    register.add_argument("--meeting", type=int, action="append", default=[], help="only this meeting id (repeatable)")
    register.add_argument(
        "--request-id", default="", help="idempotency key: the same key resumes watching the same job"
    )
    register.add_argument("--token", help="an admin's bearer token (default: ROLLCALL_TOKEN, or a development token)")
    register.add_argument(
        "--email", default="admin@r1.deped.gov.ph", help="development mode: the admin to act as (default demo admin)"
    )
    register.add_argument("--target", help="registration service address (default ROLLCALL_REGISTRATION_TARGET)")
    register.set_defaults(handler=_register_class)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        settings = Settings.from_env()
    except ConfigError as exc:
        sys.stderr.write(f"rollcall: configuration error: {exc}\n")
        return 2
    configure_logging("cli", "WARNING")
    logging.getLogger("rollcall").setLevel(logging.WARNING)
    try:
        return int(args.handler(settings, args))
    except CommandError as exc:
        sys.stderr.write(f"rollcall: {exc}\n")
        return 1
    except KeyboardInterrupt:
        return 130
    except (RuntimeError, OSError) as exc:
        sys.stderr.write(f"rollcall: {exc}\n")
        return 1
    except httpx.HTTPError as exc:
        sys.stderr.write(f"rollcall: the Zoom emulator refused a request: {exc}\n")
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
