"""`pigment init`: create the store."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from pigment_cli.cli._common import ActorOption, DbOption, now_for, resolve_actor, say


def init(
    db: DbOption = None,
    policy_file: Annotated[
        Path | None,
        typer.Option("--policy", help="Policy TOML to put in force (default: the built-in one)."),
    ] = None,
    actor: ActorOption = None,
) -> None:
    """Create a new, empty store (mode 0600). Example: pigment init --db ~/clinic/pigment.db"""
    from pigment_cli import audit
    from pigment_cli.clock import iso_now
    from pigment_cli.policy import default_policy, parse_policy, read_policy_file, store_policy
    from pigment_cli.store import SCHEMA_VERSION, init_store, resolve_path, transaction

    policy = parse_policy(read_policy_file(policy_file)) if policy_file else default_policy()
    path = resolve_path(db)
    now, who = now_for(), resolve_actor(actor)
    conn = init_store(path)
    try:
        with transaction(conn):
            version = store_policy(conn, policy, iso_now(now), who)
            audit.record(conn, at=iso_now(now), actor=who, command="init",
                         schema=SCHEMA_VERSION, policy_version=version)
    except BaseException:
        conn.close()
        path.unlink(missing_ok=True)
        raise
    conn.close()
    source = str(policy_file) if policy_file else "the built-in policy"
    for warning in policy.warnings:
        say(f"pigment: {source}: {warning}")
    say(f"pigment: created store {path} (schema {SCHEMA_VERSION}, policy {policy.version})")


def register(app: typer.Typer) -> None:
    app.command("init")(init)
