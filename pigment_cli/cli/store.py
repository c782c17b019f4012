"""`pigment init`: create the store."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from pigment_cli.cli._common import ActorOption, DbOption, now_for, resolve_actor, say, store_path


def init(
    db: DbOption = None,
    policy_file: Annotated[
        Path | None,
        typer.Option("--policy", help="Policy TOML to put in force (default: the built-in one)."),
    ] = None,
    actor: ActorOption = None,
) -> None:
    """Create a new, empty store (mode 0600). Example: pigment init --db ~/clinic/pigment.db"""
    from pigment_cli.policy import default_policy, parse_policy, read_policy_file
    from pigment_cli.store.migrations import SCHEMA_VERSION
    from pigment_cli.store.session import create_store

    policy = parse_policy(read_policy_file(policy_file)) if policy_file else default_policy()
    path = store_path(db)
    create_store(path, policy=policy, now=now_for(), actor=resolve_actor(actor))
    source = str(policy_file) if policy_file else "the built-in policy"
    for warning in policy.warnings:
        say(f"pigment: {source}: {warning}")
    say(f"pigment: created store {path} (schema {SCHEMA_VERSION}, policy {policy.version})")


def register(app: typer.Typer) -> None:
    app.command("init")(init)
