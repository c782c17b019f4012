"""`pigment item ...`: the pieces of personal data held on a subject."""

from __future__ import annotations

from typing import Annotated

import typer

from pigment_cli.cli._common import (
    ActorOption,
    DbOption,
    JsonFlag,
    RequestOption,
    SubjectArg,
    open_session,
    print_json,
    refuse_unscrubbed,
    say,
    table,
    tell_recipients,
)

app = typer.Typer(help="The pieces of personal data held on a subject.", no_args_is_help=True)


@app.command("add")
def add(
    subject_id: SubjectArg,
    category: Annotated[str, typer.Option("--category", help="Data category (see policy show).")],
    source: Annotated[str, typer.Option("--source", help="How it was collected (see policy show).")],
    purpose: Annotated[str, typer.Option("--purpose", help="Why it is held (see policy show).")],
    basis: Annotated[str | None, typer.Option(
        "--basis", help="Lawful basis (default: the purpose's).", show_default=False)] = None,
    value: Annotated[str | None, typer.Option("--value", help="The data itself.")] = None,
    collected: Annotated[str | None, typer.Option(
        "--collected", help="When collected (default: --processed).", show_default=False)] = None,
    processed: Annotated[str | None, typer.Option(
        "--processed", help="When last processed (default: now).", show_default=False)] = None,
    db: DbOption = None, actor: ActorOption = None,
) -> None:
    """Record a piece of data held on a subject; print its item id.
    Example: pigment item add S-7K3Q9 --category medical_history --source consultation --purpose medical_records --value "Eczema, 2019"
    """
    from pigment_cli.records.items import add_item

    with open_session(db, actor) as s:
        item = add_item(s, subject_id, category=category, source=source, purpose=purpose,
                        basis=basis, value=value, collected=collected, processed=processed)
    print(item.id)


@app.command("touch")
def touch(
    item_id: Annotated[int, typer.Argument(metavar="ITEM", help="Item id (see item list).")],
    processed: Annotated[str | None, typer.Option(
        "--processed", help="When it was processed (default: now).", show_default=False)] = None,
    db: DbOption = None, actor: ActorOption = None,
) -> None:
    """Record a new processing of an item (restarts its retention clock). Example: pigment item touch 42"""
    from pigment_cli.records.items import touch_item

    with open_session(db, actor) as s:
        item = touch_item(s, item_id, processed)
    say(f"pigment: item {item.id} processed at {item.processed_at}")


@app.command("list")
def list_(
    subject_id: SubjectArg,
    category: Annotated[str | None, typer.Option("--category", help="Only this category.")] = None,
    db: DbOption = None, actor: ActorOption = None, json_: JsonFlag = False,
) -> None:
    """List a subject's items with their erasure dates. Example: pigment item list S-7K3Q9"""
    from pigment_cli.records.items import list_items

    with open_session(db, actor) as s:
        items = list_items(s, subject_id, category)
    if json_:
        print_json([i.to_dict() for i in items])
        return
    table(f"{len(items)} item(s)",
          ["item", "category", "value", "source", "purpose", "basis", "collected", "processed",
           "erased on"],
          [[i.id, i.category, i.value, i.source, i.purpose, i.basis, i.collected_at[:10],
            i.processed_at[:10], i.erasure_due] for i in items])


ItemArg = Annotated[int, typer.Argument(metavar="ITEM", help="Item id (see item list).")]


@app.command("correct")
def correct(
    item_id: ItemArg,
    value: Annotated[str | None, typer.Option(
        "--value", help='The right value ("" clears it).', show_default=False)] = None,
    category: Annotated[str | None, typer.Option(
        "--category", help="The right data category (see policy show).", show_default=False)] = None,
    source: Annotated[str | None, typer.Option(
        "--source", help="How it was really collected (see policy show).", show_default=False)] = None,
    purpose: Annotated[str | None, typer.Option(
        "--purpose", help="Why it is really held (see policy show); its basis comes with it.",
        show_default=False)] = None,
    collected: Annotated[str | None, typer.Option(
        "--collected", help="When it was really collected.", show_default=False)] = None,
    request: RequestOption = None,
    db: DbOption = None, actor: ActorOption = None, json_: JsonFlag = False,
) -> None:
    """Correct a wrong item in place (Art. 16); the retention clock does not move.
    Example: pigment item correct 42 --value "Eczema, 2018" --request R-7K3Q9"""
    from pigment_cli.records.corrections import correct_item

    with open_session(db, actor) as s:
        done = correct_item(s, item_id, value=value, category=category, source=source,
                            purpose=purpose, collected=collected, request_id=request)
    if json_:
        print_json(done.to_dict())
    else:
        answered = f" (answers {done.request_id})" if done.request_id else ""
        say(f"pigment: item {done.item.id}: " + (
            f"corrected {', '.join(done.changed)}{answered}" if done.changed
            else "no change (nothing recorded)"))
        if done.changed:
            tell_recipients(done.notices)
    refuse_unscrubbed(done.scrubbed, "corrected")


@app.command("remove")
def remove(
    item_id: ItemArg,
    reason: Annotated[str, typer.Option(
        "--reason", help="Why the entry is wrong (required; checked, then kept nowhere: it "
        "could describe the data removed).", show_default=False)],
    request: RequestOption = None,
    db: DbOption = None, actor: ActorOption = None, json_: JsonFlag = False,
) -> None:
    """Erase a wrong entry for good (rule removed:wrong-entry).
    Example: pigment item remove 42 --reason "entered on the wrong patient\""""
    from pigment_cli.records.corrections import remove_item

    with open_session(db, actor, lock=True) as s:
        done = remove_item(s, item_id, reason=reason, request_id=request)
    if json_:
        print_json(done.to_dict())
    else:
        answered = f" (answers {done.request_id})" if done.request_id else ""
        say(f"pigment: item {done.item_id} removed from {done.subject_id}{answered}")
        tell_recipients(done.notices)
    refuse_unscrubbed(done.scrubbed, "removed")
