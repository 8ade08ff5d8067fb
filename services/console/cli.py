"""python -m services.console add-operator | remove-operator | list-operators — the console's operator accounts.

Operators are created here only (there is no sign-up page). The password is read from --password-file, else from
standard input when it is not a terminal (one line: `... add-operator ana --role viewer < file`), else asked twice
without echo. It is stored as an argon2 hash in `<DSP_MONGO_DB_PREFIX>_console.operators`; --replace gives an
operator a new password or role and ends their sessions. Needs DSP_MONGO_URI and DSP_MONGO_DB_PREFIX only."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar, Protocol, TextIO

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from services.kit.errors import TRANSIENT
from services.kit.settings import ServiceSettings

from .domain.operators import MAX_PASSWORD, ROLES, OperatorError, OperatorExists, check_name, check_password


class StoreSettings(BaseSettings):
    """Where the operators live: the console's database; nothing else (no secret needed to manage operators)."""

    model_config = SettingsConfigDict(env_prefix="DSP_", extra="ignore", frozen=True)
    service: ClassVar[str] = "console"
    mongo_uri: str = Field(default=ServiceSettings.model_fields["mongo_uri"].default)
    mongo_db_prefix: str = Field(default=ServiceSettings.model_fields["mongo_db_prefix"].default,
                                 pattern=r"^[A-Za-z0-9_]{1,40}$")
    mongo_username: str | None = None  # the console's own MongoDB user (as the console worker), if the server asks
    mongo_password: SecretStr | None = None
    mongo_auth_source: str = "admin"


class Store(Protocol):
    async def add(self, name: str, role: str, password: str, *, replace: bool = False) -> str: ...
    async def remove(self, name: str) -> bool: ...
    async def all(self) -> list[dict[str, Any]]: ...
    async def get(self, name: str) -> dict[str, Any] | None: ...


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="python -m services.console", description=__doc__,
                                  formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = top.add_subparsers(dest="command", required=True)
    add = commands.add_parser("add-operator", help="create an operator (or --replace one's password and role)")
    add.add_argument("name", help="1-64 characters: lowercase letters, digits, '.', '_', '-'")
    add.add_argument("--role", required=True, choices=ROLES,
                     help="viewer: counts, reasons and times; replayer: also payloads and replays")
    add.add_argument("--password-file", type=Path, help="read the password from this file (its first line)")
    exists = add.add_mutually_exclusive_group()
    exists.add_argument("--replace", action="store_true", help="the operator exists: new password and role")
    exists.add_argument("--if-missing", action="store_true", help="the operator exists: leave it as it is")
    remove = commands.add_parser("remove-operator", help="delete an operator and end their sessions")
    remove.add_argument("name")
    commands.add_parser("list-operators", help="names, roles and creation times (never a hash)")
    return top


def read_password(args: argparse.Namespace, stdin: TextIO, ask: Callable[[str], str]) -> str:
    if args.password_file is not None:
        lines = args.password_file.read_text(encoding="utf-8").splitlines()
        password = lines[0] if lines else ""
    elif not stdin.isatty():
        password = stdin.readline(MAX_PASSWORD + 2).rstrip("\r\n")
    else:
        password = ask(f"password for {args.name}: ")
        if ask("the same again: ") != password:
            raise OperatorError("the two passwords differ")
    return check_password(password)


async def run(args: argparse.Namespace, store: Store, out: TextIO, stdin: TextIO, ask: Callable[[str], str]) -> int:
    if args.command == "add-operator":
        check_name(args.name)
        if args.if_missing and await store.get(args.name) is not None:
            print(f"operator {args.name} exists; left as it is", file=out)
            return 0
        outcome = await store.add(args.name, args.role, read_password(args, stdin, ask), replace=args.replace)
        print(f"operator {args.name} {outcome} with role {args.role}", file=out)
        return 0
    if args.command == "remove-operator":
        if await store.remove(args.name):
            print(f"operator {args.name} removed; their sessions ended", file=out)
            return 0
        print(f"no operator {args.name}", file=out)
        return 1
    operators = await store.all()
    for op in operators:
        created = op["created_at"].isoformat(timespec="seconds") if op.get("created_at") else "-"
        print(f"{op['name']:<24} {op['role']:<9} created {created}", file=out)
    if not operators:
        print("no operator yet: python -m services.console add-operator NAME --role viewer|replayer", file=out)
    return 0


async def _with_database(args: argparse.Namespace, out: TextIO, stdin: TextIO, ask: Callable[[str], str]) -> int:
    from services.kit.mongo import make_client

    from .service.operators import Operators
    from .store.mongo import ConsoleStore

    settings = StoreSettings()
    client = make_client(settings.mongo_uri, "console-cli", settings.mongo_username, settings.mongo_password,
                         settings.mongo_auth_source)
    try:
        return await run(args, Operators(ConsoleStore(client[f"{settings.mongo_db_prefix}_console"])), out, stdin, ask)
    finally:
        await client.close()


def main(argv: list[str] | None = None, store: Store | None = None, out: TextIO | None = None,
         stdin: TextIO | None = None, ask: Callable[[str], str] = getpass.getpass) -> int:
    args = parser().parse_args(argv)
    out, stdin = out or sys.stdout, stdin or sys.stdin
    try:
        if store is not None:
            return asyncio.run(run(args, store, out, stdin, ask))
        return asyncio.run(_with_database(args, out, stdin, ask))
    except OperatorExists as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except TRANSIENT as exc:
        print(f"error: the console's database did not answer ({type(exc).__name__}); is it running?", file=sys.stderr)
        return 3
    except (OperatorError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
