"""`pigment policy ...`: show, check and apply the clinic's policy."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from pigment_cli.cli._common import (
    ActorOption,
    DbOption,
    JsonFlag,
    check_out,
    open_session,
    print_json,
    say,
    table,
    write_out,
)
from pigment_cli.errors import CheckFailed

app = typer.Typer(help="The clinic's policy as data: show, check, apply.", no_args_is_help=True)

FileArg = Annotated[Path, typer.Argument(metavar="FILE", help="A policy TOML file.", show_default=False)]


@app.command("show")
def show(db: DbOption = None, json_: JsonFlag = False, actor: ActorOption = None) -> None:
    """Print the policy in force in the store. Example: pigment policy show --json"""
    from pigment_cli.policy import policy_history

    with open_session(db, actor) as s:
        policy = s.policy
        history = policy_history(s.conn)
    if json_:
        print_json({"version": policy.version, "sha256": policy.sha256,
                    "store_version": history[-1]["version"] if history else None,
                    "policy": policy.data})  # the whole document, as the store holds it
        return
    table(f"Policy {policy.version} (store version {history[-1]['version'] if history else '-'})",
          ["", ""], [
              ["controller", policy.controller["name"]],
              ["contact", policy.controller["email"]],
              ["supervisory authority", policy.authority["name"]],
              ["retention", policy.retention_label()],
          ])
    table("Purposes", ["purpose", "lawful basis", "label"],
          [[k, policy.purpose(k).basis, policy.purpose(k).label] for k in policy.keys("purposes")])
    table("Categories", ["category", "retention", "label"],
          [[k, policy.retention_label(k), policy.label("categories", k)]
           for k in policy.keys("categories")])
    table("Sources", ["source", "label"],
          [[k, policy.label("sources", k)] for k in policy.keys("sources")])
    table("Recipient types", ["type", "label"],
          [[k, policy.label("recipient_types", k)] for k in policy.keys("recipient_types")])


@app.command("check")
def check(file: FileArg, json_: JsonFlag = False) -> None:
    """Validate a policy file; name each bad key and its line. Example: pigment policy check p.toml"""
    from pigment_cli.policy import check_source, read_policy_file

    _, problems = check_source(read_policy_file(file))
    errors = [p for p in problems if p.level == "error"]
    if json_:
        print_json({"ok": not errors, "problems": [
            {"level": p.level, "key": p.key, "line": p.line, "message": p.message}
            for p in problems]})
    else:
        for problem in problems:
            say(f"{file}: {problem}")
    if errors:
        raise CheckFailed(f"{file}: {len(errors)} error(s); the policy was not valid")
    if not json_:
        say(f"{file}: valid ({len(problems)} warning(s))")


@app.command("apply")
def apply(file: FileArg, db: DbOption = None, actor: ActorOption = None) -> None:
    """Put a policy file in force (the old versions are kept). Example: pigment policy apply p.toml"""
    from pigment_cli.policy import parse_policy, read_policy_file
    from pigment_cli.store.session import apply_policy

    policy = parse_policy(read_policy_file(file))
    with open_session(db, actor) as s:
        version = apply_policy(s, policy)
    if version is None:
        say("pigment: that policy is already in force; nothing changed")
        return
    for warning in policy.warnings:
        say(f"pigment: {file}: {warning}")
    say(f"pigment: policy {policy.version} in force as store version {version}")


@app.command("history")
def history(db: DbOption = None, json_: JsonFlag = False, actor: ActorOption = None) -> None:
    """List every policy version the store has had in force. Example: pigment policy history"""
    from pigment_cli.policy import policy_history

    with open_session(db, actor) as s:
        rows = policy_history(s.conn)
    if json_:
        print_json(rows)
        return
    table("Policies in force, oldest first", ["store version", "policy version", "applied at", "by",
                                              "sha256"],
          [[r["version"], r["policy_version"], r["applied_at"], r["actor"], r["sha256"][:16]]
           for r in rows])


@app.command("ropa")
def ropa(
    format_: Annotated[str, typer.Option("--format", help="md, html or csv.")] = "md",
    out: Annotated[Path | None, typer.Option("--out", help="Write to this file (mode 0600).",
                                             show_default=False)] = None,
    db: DbOption = None, actor: ActorOption = None,
) -> None:
    """Print the Art. 30 record of processing activities, from the policy in force.
    Example: pigment policy ropa --format html --out ropa.html"""
    from pigment_cli.records.dpias import dpias_for_ropa
    from pigment_cli.records.processors import processors
    from pigment_cli.reports.ropa import latest_encrypted_backup, render_ropa

    _check_out(out, db)
    with open_session(db, actor) as s:
        text = render_ropa(s.policy, format_, encrypted_backup_on=latest_encrypted_backup(s.conn),
                           dpias=dpias_for_ropa(s.conn), processors=processors(s.conn))
    _emit(text, out, db)


@app.command("export")
def export(
    format_: Annotated[str, typer.Option("--format", help="fideslang (a Fides YAML manifest).")] = "fideslang",
    out: Annotated[Path | None, typer.Option("--out", help="Write to this file (mode 0600).",
                                             show_default=False)] = None,
    db: DbOption = None, actor: ActorOption = None,
) -> None:
    """Export the policy's data map for another tool. Example: pigment policy export --format fideslang"""
    from pigment_cli.errors import BadInput
    from pigment_cli.reports.ropa import render_fides

    if format_ != "fideslang":
        raise BadInput(f"unknown --format {format_!r}; the only export format is fideslang")
    _check_out(out, db)
    with open_session(db, actor) as s:
        text = render_fides(s.policy)
    _emit(text, out, db)


def _check_out(out: Path | None, db: Path | None) -> None:
    if out is not None:
        check_out(out, db)


def _emit(text: str, out: Path | None, db: Path | None) -> None:
    import sys

    if out is None:
        sys.stdout.write(text)
        return
    write_out(out, text, db)
    say(f"pigment: wrote {out}")
