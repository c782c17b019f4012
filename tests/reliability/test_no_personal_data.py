"""Marker values in every personal field never reach the audit trail, stderr, file names or
reports, and are gone from the database file once their subjects are erased."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from pigment_cli.errors import ExitCode

MARKERS = {
    "name": "Qzname Markerson",
    "title": "Qztitle",
    "email": "qz.marker@example.org",
    "phone": "07700 900987",
    "address": "Qzaddress 1 Marker Row",
    "value": "Qzvalue clinical note",
    "evidence": "Qzevidence form 12",
    "recipient": "Qzrecipient Labs",
    "law": "Qzlaw Act 2026 s.1",
    "hold": "Qzhold outstanding debt",
    "pause": "Qzpause which clinic",
    "extension": "Qzextension complex",
    "reviewer": "Dr Qzreviewer",
    "note": "Qznote no serious harm",
}
NEEDLES = [*MARKERS.values(), "Qzname", "Markerson", "qz.marker", "900987"]


def _clean(text: str, where: str) -> None:
    for needle in NEEDLES:
        assert needle.lower() not in text.lower(), f"{needle!r} leaked into {where}"


def test_markers_stay_where_they_belong(cli, store: Path, tmp_path: Path, monkeypatch) -> None:
    m = MARKERS
    sid = cli.ok("subject", "add", "--name", m["name"], "--title", m["title"], "--email", m["email"],
                 "--phone", m["phone"], "--address", m["address"], "--dob", "1980-01-01").stdout.strip()
    runs = []

    def run(expected: ExitCode, *args: str) -> str:
        result = cli(*args)
        assert result.exit_code == expected, (args, result.exit_code, result.stderr)
        assert "Traceback" not in result.stderr
        runs.append((args, result))
        return result.stdout

    ok, no, bad, refused = ExitCode.OK, ExitCode.CHECK_FAILED, ExitCode.BAD_INPUT, ExitCode.REFUSED
    item = run(ok, "item", "add", sid, "--category", "medical_history", "--source", "consultation",
               "--purpose", "medical_records", "--value", m["value"], "--processed", "2019-01-01").strip()
    run(ok, "item", "touch", item, "--processed", "2019-02-01")
    # no third-party consent yet: refused, and the refusal does not name the recipient
    run(refused, "disclose", sid, "--to", m["recipient"], "--recipient-type", "other",
        "--purpose", "newsletter", "--items", "contact")
    run(ok, "consent", "grant", sid, "third_party_non_medical", "--via", "paper_form",
        "--evidence", m["evidence"], "--recipient", m["recipient"], "--categories", "contact")
    run(ok, "disclose", sid, "--to", m["recipient"], "--recipient-type", "other",
        "--purpose", "newsletter", "--items", "contact", "--legal-requirement", m["law"])
    run(ok, "disclose", sid, "--to", m["recipient"], "--recipient-type", "other",
        "--purpose", "third_party_non_medical", "--items", "contact")
    hold = run(ok, "hold", "add", sid, "--reason", m["hold"]).strip()
    request = run(ok, "sar", "open", sid, "--received", "2026-11-02", "--json")
    request_id = json.loads(request)["id"]
    run(ok, "sar", "pause", request_id, "--reason", m["pause"], "--on", "2026-11-03")
    run(ok, "sar", "resume", request_id, "--on", "2026-11-05")
    run(ok, "sar", "extend", request_id, "--reason", m["extension"])
    run(ok, "sar", "review", request_id, "--by", m["reviewer"], "--outcome", "release", "--note", m["note"])
    export = tmp_path / "export-out"
    run(ok, "sar", "export", sid, "--out", str(export), "--request", request_id)
    run(ok, "sar", "close", request_id)
    # Every other kind of request, and the letters: no personal value in the audit trail.
    complaint = json.loads(run(ok, "request", "open", sid, "--kind", "complaint", "--received",
                               "2026-11-02", "--note", m["note"] + " complaint", "--json"))["id"]
    run(ok, "request", "letter", complaint, "--template", "acknowledgement")
    run(ok, "request", "acknowledge", complaint, "--on", "2026-11-03")
    run(ok, "request", "close", complaint, "--outcome", "not-upheld", "--reason",
        m["note"] + " outcome")
    run(ok, "subject", "update", sid, "--email", m["email"].upper(), "--address", m["address"] + " B")
    for args in (["subject", "show", sid], ["subject", "find", "Qzname"], ["subject", "list"],
                 ["item", "list", sid], ["consent", "status", sid], ["consent", "history", sid],
                 ["disclosure", "list", sid], ["sar", "list"], ["sar", "show", request_id],
                 ["hold", "list"]):
        run(ok, *args)
    run(no, "consent", "check", sid, "newsletter")  # never asked
    reports = [run(ok, "report", name, "--format", fmt)
               for name in ("consents", "sources", "requests", "retention")
               for fmt in ("table", "csv", "json")]
    reports += [run(ok, "status"), run(ok, "status", "--json"), run(ok, "policy", "ropa"),
                run(ok, "policy", "export")]
    backup_dir = tmp_path / "backups"
    backup_dir.mkdir()
    run(ok, "backup", str(backup_dir))
    run(ok, "check")
    run(ok, "hold", "release", hold)
    run(ok, "audit", "log")
    # unknown subjects and bad input: the errors never echo personal data
    run(bad, "subject", "show", m["name"])
    run(bad, "subject", "add", "--name", m["name"], "--email", "not an email " + m["email"])
    run(bad, "subject", "add", "--name", m["name"], "--dob", m["address"])

    for args, result in runs:
        _clean(result.stderr, f"stderr of {' '.join(args[:2])}")
    for text in reports:
        _clean(text, "a report")
    for path in tmp_path.rglob("*"):
        _clean(path.name, "a file name")
    conn = sqlite3.connect(store)
    _clean(json.dumps(conn.execute("SELECT * FROM audit").fetchall()), "the audit trail")
    conn.close()

    # erase them all (7 years on, nothing held), then grep the raw files
    from datetime import UTC, datetime

    from pigment_cli import clock

    monkeypatch.setattr(clock, "system_now", lambda: datetime(2034, 1, 1, 3, 0, tzinfo=UTC))
    sweep = cli.json("retention", "sweep", "--apply")
    assert sweep["erased_subjects"] == 1
    for path in store.parent.glob("pigment.db*"):
        _clean(path.read_bytes().decode("latin-1"), f"the file {path.name} after erasure")
