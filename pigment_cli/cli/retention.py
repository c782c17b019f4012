"""`pigment retention ...`: what falls due and when, and the sweep that erases it."""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Annotated, Any

import typer

from pigment_cli.cli._common import (
    ActorOption,
    AsOfOption,
    DbOption,
    JsonFlag,
    err,
    open_session,
    out,
    print_json,
    refuse_future_as_of,
    table,
)

if TYPE_CHECKING:
    from pigment_cli.retention.plan import ForecastMonth, Held

app = typer.Typer(help="The 7-year promise: what falls due, and the sweep that erases it.",
                  no_args_is_help=True)


def _held_rows(held: list[Held]) -> list[list[Any]]:
    return [[h.subject_id, h.due, h.rule, "; ".join(h.reasons)] for h in held]


@app.command("plan")
def plan(as_of: AsOfOption = None, db: DbOption = None, json_: JsonFlag = False) -> None:
    """Show what a sweep would erase, what is held back and why, and a 12-month forecast.
    Example: pigment retention plan --as-of 2027-01-01"""
    from pigment_cli.retention.plan import plan as make_plan

    with open_session(db, as_of=as_of, mode="read") as s:
        the_plan = make_plan(s.conn, s.policy, s.today)
    today = the_plan.as_of
    if json_:
        print_json(the_plan.to_dict())
        return
    table(f"Due on {today.isoformat()}: {len(the_plan.subjects)} subject(s) to erase whole",
          ["subject", "due", "last processed", "rule"],
          [[e.subject_id, e.due, e.last_processed_at[:10], e.rule] for e in the_plan.subjects])
    table(f"{len(the_plan.items)} single item(s) due under a category rule",
          ["item", "subject", "category", "due", "rule"],
          [[e.item, e.subject_id, e.category, e.due, e.rule] for e in the_plan.items])
    table(f"{len(the_plan.held)} subject(s) due but held back", ["subject", "due", "rule", "why"],
          _held_rows(the_plan.held))
    _forecast(the_plan.forecast)


def _forecast(rows: list[ForecastMonth]) -> None:
    console = out()
    if console.is_terminal:
        widest = max([r.subjects + r.items for r in rows] + [1])
        console.print("Forecast: what falls due in the next 12 months")
        for r in rows:
            total = r.subjects + r.items
            bar = "█" * round(40 * total / widest) if total else ""
            console.print(f"{r.month}  [cyan]{bar}[/cyan] {r.subjects} subject(s), "
                          f"{r.items} item(s)", markup=True, highlight=False)
        return
    table("Forecast: what falls due in the next 12 months", ["month", "subjects", "items"],
          [[r.month, r.subjects, r.items] for r in rows])


@app.command("sweep")
def sweep(
    as_of: AsOfOption = None,
    apply: Annotated[bool, typer.Option("--apply", help="Really erase (default: a dry run).")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print nothing but errors.")] = False,
    db: DbOption = None, actor: ActorOption = None, json_: JsonFlag = False,
) -> None:
    """Erase what is due (a dry run unless --apply). Example: pigment retention sweep --apply --json"""
    from pigment_cli.retention.sweep import sweep as run_sweep

    if apply:
        refuse_future_as_of(as_of, "retention sweep --apply")
    # Only a sweep that erases takes the lock: a dry run reads, and leaves no file behind.
    with open_session(db, actor, as_of, mode="batched", lock=apply) as s:
        progress = _progress_bar() if apply and not quiet and err().is_terminal else None
        try:
            result = run_sweep(s.conn, s.policy, s.today, stamp=s.stamp, actor=s.actor,
                               apply=apply, progress=progress.update if progress else None)
        finally:
            if progress:
                progress.close()
    if quiet:
        return
    if json_:  # one line, for cron logs
        sys.stdout.write(json.dumps(result.to_dict(), separators=(",", ":")) + "\n")
        return
    verb = "erased" if apply else "would erase (dry run; add --apply to erase)"
    held = result.held_subjects()
    sys.stdout.write(
        f"retention sweep as of {result.as_of}: {verb} {result.erased_subjects} subject(s) and "
        f"{result.erased_items} item(s); {len(held)} subject(s) held back; "
        f"{result.duration_s:.2f} s\n")
    for h in held:
        sys.stdout.write(f"  held: {h['subject_id']} (due {h['due']}): {'; '.join(h['reasons'])}\n")
    if result.erased_breaches or result.erased_dpias or result.erased_processors:
        sys.stdout.write(f"  registers: {result.erased_breaches} closed breach(es), "
                         f"{result.erased_dpias} ended DPIA(s), {result.erased_processors} ended "
                         "processor(s) past their keep\n")


class _progress_bar:  # noqa: N801 - used like a function
    """A Rich progress bar on stderr (only ever created when stderr is a terminal)."""

    def __init__(self) -> None:
        from rich.progress import Progress

        self.progress = Progress(console=err(), transient=True)
        self.progress.start()
        self.task = self.progress.add_task("erasing", total=None)

    def update(self, done: int, total: int) -> None:
        self.progress.update(self.task, completed=done, total=total)

    def close(self) -> None:
        self.progress.stop()
