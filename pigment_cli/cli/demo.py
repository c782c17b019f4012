"""`pigment demo`: build a synthetic, clearly fictional clinic (to try pigment, and to benchmark it)."""

from __future__ import annotations

from typing import Annotated

import typer

from pigment_cli.cli._common import (
    ActorOption,
    AsOfOption,
    DbOption,
    JsonFlag,
    open_session,
    print_json,
    say,
    store_path,
)


def demo(
    subjects: Annotated[int, typer.Option(
        "--subjects", min=1, help="How many fictional people (about ten items each).")] = 200,
    seed: Annotated[int, typer.Option(
        "--seed", help="Same seed, same day: same clinic, ids included.")] = 1,
    db: DbOption = None, actor: ActorOption = None, as_of: AsOfOption = None,
    json_: JsonFlag = False,
) -> None:
    """Fill a new or empty store with a fictional clinic. Example: pigment demo --subjects 1000 --seed 7 --db /tmp/demo.db
    """
    from pigment_cli.demo import build_demo

    if not store_path(db).exists():
        from pigment_cli.cli.store import init

        init(db=db, policy_file=None, actor=actor)
    with open_session(db, actor, as_of) as s:
        summary = build_demo(s, subjects=subjects, seed=seed)
    say(f"pigment: fictional clinic built (seed {summary.seed}, as of {summary.as_of}): "
        f"{summary.subjects} subjects, {summary.items} items, {summary.consent_events} consent "
        f"events, {summary.disclosures} disclosures, {summary.holds} holds, "
        f"{summary.requests} requests")
    if json_:
        print_json(summary.to_dict())


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)
