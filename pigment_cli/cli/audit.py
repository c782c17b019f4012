"""`pigment audit ...`: read and verify the hash-chained audit trail."""

from __future__ import annotations

from typing import Annotated

import typer

from pigment_cli.cli._common import ActorOption, DbOption, JsonFlag, open_session, print_json, say, table
from pigment_cli.errors import CheckFailed

app = typer.Typer(help="The audit trail: who did what to which subject id, when.",
                  no_args_is_help=True)


@app.command("log")
def log(
    subject: Annotated[str | None, typer.Option("--subject", help="Only this subject id.")] = None,
    since: Annotated[str | None, typer.Option("--since", help="Only from this date on.")] = None,
    limit: Annotated[int | None, typer.Option("--limit", min=1, help="Only the last N.")] = None,
    db: DbOption = None, actor: ActorOption = None, json_: JsonFlag = False,
) -> None:
    """Print audit entries, oldest first. Example: pigment audit log --subject S-7K3Q9"""
    from pigment_cli.clock import normalise_when
    from pigment_cli.store import audit

    since_at = normalise_when(since, "--since") if since else None
    with open_session(db, actor) as s:
        rows = audit.entries(s.conn, subject_id=subject.strip().upper() if subject else None,
                             since=since_at, limit=limit)
    if json_:
        print_json([e.__dict__ for e in rows])
        return
    table(f"{len(rows)} audit entr{'y' if len(rows) == 1 else 'ies'}",
          ["#", "at (UTC)", "actor", "command", "subject", "detail"],
          [[e.seq, e.at, e.actor, e.command, e.subject_id or "",
            " ".join(f"{k}={v}" for k, v in e.detail.items())] for e in rows])


@app.command("verify")
def verify(db: DbOption = None, actor: ActorOption = None, json_: JsonFlag = False) -> None:
    """Check the audit chain; exit 1 naming the first broken entry. Example: pigment audit verify"""
    from pigment_cli.store.session import verify_audit

    with open_session(db, actor) as s:
        report = verify_audit(s)
    if json_:
        print_json({k: v for k, v in report.__dict__.items() if k != "head_hash"})
    if not report.ok:
        raise CheckFailed(report.message)
    if not json_:
        say(f"pigment: audit chain intact ({report.entries} entries)")
