"""`pigment dpia ...`: the register of data protection impact assessments (UK GDPR Art. 35)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from pigment_cli.cli._common import (
    ActorOption,
    AsOfOption,
    DbOption,
    JsonFlag,
    open_session,
    print_json,
    say,
    table,
)

if TYPE_CHECKING:
    from pigment_cli.records.dpias import Dpia

app = typer.Typer(help="DPIAs: the impact assessments high-risk processing needs (Art. 35).",
                  no_args_is_help=True)
DpiaArg = Annotated[str, typer.Argument(metavar="DPIA", help="DPIA id, e.g. D-5WQ2N.")]
ProcessingOption = Annotated[str | None, typer.Option(
    "--processing", help="The processing assessed, e.g. \"CCTV in clinics\".", show_default=False)]
PurposesOption = Annotated[str | None, typer.Option(
    "--purposes", help="The policy's purposes it serves, comma-separated, e.g. security.",
    show_default=False)]
RiskOption = Annotated[str | None, typer.Option(
    "--risk", help="The risks to people found (shown by dpia show only).", show_default=False)]
MeasuresOption = Annotated[str | None, typer.Option(
    "--measures", help="The measures that address them (shown by dpia show only).",
    show_default=False)]
ReviewByOption = Annotated[str | None, typer.Option(
    "--review-by", help="The day of the next review (YYYY-MM-DD, today or later).",
    show_default=False)]
ConsultedOption = Annotated[str | None, typer.Option(
    "--ico-consulted", help="The day the ICO was consulted on it (Art. 36), if it was.",
    show_default=False)]


@app.command("add")
def add(
    processing: Annotated[str, typer.Option(
        "--processing", help="The processing assessed, e.g. \"CCTV in clinics\".")],
    purposes: Annotated[str, typer.Option(
        "--purposes", help="The policy's purposes it serves, comma-separated, e.g. security.")],
    risk: Annotated[str, typer.Option(
        "--risk", help="The risks to people found (shown by dpia show only).")],
    measures: Annotated[str, typer.Option(
        "--measures", help="The measures that address them (shown by dpia show only).")],
    review_by: Annotated[str, typer.Option(
        "--review-by", help="The day of the next review (YYYY-MM-DD, today or later).")],
    ico_consulted: ConsultedOption = None,
    db: DbOption = None, actor: ActorOption = None, as_of: AsOfOption = None,
) -> None:
    """Record a DPIA; print its id.
    Example: pigment dpia add --processing "CCTV in clinics" --purposes security --risk "faces
    recorded" --measures "signs; footage overwritten after 30 days" --review-by 2027-11-01"""
    from pigment_cli.records.dpias import add_dpia

    with open_session(db, actor, as_of) as s:
        dpia = add_dpia(s, processing=processing, purposes=purposes, risk=risk,
                        measures=measures, review_by=review_by, ico_consulted=ico_consulted)
    print(dpia.id)
    say(f"pigment: DPIA {dpia.id} recorded; review by {dpia.review_by}")


@app.command("list")
def list_(
    due: Annotated[bool, typer.Option(
        "--due", help="Only DPIAs to review within 30 days or past their review date; exit 1 "
        "if any is past it.")] = False,
    all_: Annotated[bool, typer.Option("--all", help="Include ended DPIAs.")] = False,
    db: DbOption = None, as_of: AsOfOption = None, json_: JsonFlag = False,
) -> None:
    """List the DPIAs in use by review date (exit 1 with --due when any is past its review date,
    for cron). Example: pigment dpia list --due"""
    from pigment_cli.errors import CheckFailed
    from pigment_cli.records.dpias import clinic_today, list_dpias

    with open_session(db, as_of=as_of, mode="read") as s:
        dpias = list_dpias(s.conn, clinic_today(s), include_ended=all_, due_only=due)
    if json_:
        # risks and measures are free text: only `dpia show` prints them
        print_json([{k: v for k, v in d.to_dict().items() if k not in ("risk", "measures")}
                    for d in dpias])
    else:
        title = f"{len(dpias)} DPIA(s)" + (" due for review" if due else "")
        table(title, ["dpia", "processing", "purposes", "review by", "days left", "ICO", "ended"],
              [[d.id, d.processing, ", ".join(d.purposes), d.review_by, _days(d),
                d.ico_consulted_on or "-", (d.ended_at or "")[:10]] for d in dpias])
    late = sum(d.past_due for d in dpias)
    if due and late:
        raise CheckFailed(f"{late} DPIA(s) past their review date")


def _days(dpia: Dpia) -> str:
    if not dpia.active:
        return "-"
    return f"{dpia.days_left} (PAST DUE)" if dpia.past_due else str(dpia.days_left)


@app.command("show")
def show(dpia_id: DpiaArg, db: DbOption = None, actor: ActorOption = None,
         as_of: AsOfOption = None, json_: JsonFlag = False) -> None:
    """Show a DPIA with its risks and measures. Example: pigment dpia show D-5WQ2N"""
    from pigment_cli.records.dpias import show_dpia

    with open_session(db, actor, as_of) as s:
        dpia = show_dpia(s, dpia_id)
    if json_:
        print_json(dpia.to_dict())
        return
    table(f"DPIA {dpia.id}", ["", ""], [
        ["processing", dpia.processing], ["purposes", ", ".join(dpia.purposes)],
        ["risk", dpia.risk], ["measures", dpia.measures],
        ["review by", f"{dpia.review_by} ({_days(dpia)} days left)" if dpia.active
         else dpia.review_by],
        ["ICO consulted", dpia.ico_consulted_on or "no"], ["added", dpia.added_at[:10]],
        ["updated", dpia.updated_at[:10]], ["ended", (dpia.ended_at or "-")[:10]],
    ])


@app.command("update")
def update(
    dpia_id: DpiaArg, processing: ProcessingOption = None, purposes: PurposesOption = None,
    risk: RiskOption = None, measures: MeasuresOption = None, review_by: ReviewByOption = None,
    ico_consulted: ConsultedOption = None,
    db: DbOption = None, actor: ActorOption = None, as_of: AsOfOption = None,
) -> None:
    """Change a DPIA after a review (what is given). Example: pigment dpia update D-5WQ2N
    --review-by 2028-11-01"""
    from pigment_cli.records.dpias import update_dpia

    with open_session(db, actor, as_of) as s:
        dpia = update_dpia(s, dpia_id, processing=processing, purposes=purposes, risk=risk,
                           measures=measures, review_by=review_by, ico_consulted=ico_consulted)
    say(f"pigment: DPIA {dpia.id} updated; review by {dpia.review_by}")


@app.command("end")
def end(dpia_id: DpiaArg, db: DbOption = None, actor: ActorOption = None,
        as_of: AsOfOption = None) -> None:
    """Mark a DPIA ended: the processing stopped (it is kept). Example: pigment dpia end D-5WQ2N"""
    from pigment_cli.records.dpias import end_dpia

    with open_session(db, actor, as_of) as s:
        dpia = end_dpia(s, dpia_id)
    say(f"pigment: DPIA {dpia.id} ended")
