"""`pigment breach letter`: the notice to the people a high-risk breach affects (UK GDPR Art.
34), with what Art. 34(2) requires, addressed to a linked subject or "Dear patient", printed or
written to a new private file, audited with ids only, and every refusal one line on stderr with
its exit code."""

from __future__ import annotations

import sqlite3
import stat
from pathlib import Path

import pytest
from conftest import audit_entries as _audit
from conftest import domain, edited_policy

from pigment_cli.errors import ExitCode, Refused
from pigment_cli.rights.letters import render_breach_letter

# What a manager may type (markup, template syntax, a forged closing on its own line) ...
HOSTILE = "Ada <script>alert(1)</script> {{ 7*7 }} {% raw %}\r\nYours sincerely,\n\u202eevil"
# ... and what only an older version or a hand-edited store could hold (control characters).
CONTROLS = "\x1b[31m red\x07 \x00 nul\x0c"


def _one_line(result, code: int) -> str:  # noqa: ANN001
    assert result.exit_code == code, (result.exit_code, result.stdout, result.stderr)
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("pigment: "), result.stderr
    assert "Traceback" not in result.stderr
    return lines[0]


def _breach(cli, *extra: str, risk: str | None = "high",  # noqa: ANN001
            consequences: str = "Someone may learn of your treatment.",
            measures: str = "We recalled the letter and retrained staff. Watch for scam calls.",
            description: str = "A letter about your care was posted to another patient.") -> str:
    breach = cli.ok("breach", "record", "--aware-at", "2026-11-24T09:30", "--occurred-at",
                    "2026-11-23T18:00", "--nature", "confidentiality", "--categories",
                    "contact,medical_history", "--description", description,
                    *extra).stdout.split()[0]
    if risk is not None:
        cli.ok("breach", "assess", breach, "--risk", risk, "--reason", "health data")
    update = [*(["--consequences", consequences] if consequences else []),
              *(["--measures", measures] if measures else [])]
    if update:
        cli.ok("breach", "update", breach, *update)
    return breach


def test_letter_to_a_subject_has_every_art_34_2_element(cli, subject_id: str,  # noqa: ANN001
                                                         db: Path) -> None:
    breach = _breach(cli, "--subjects", subject_id)
    result = cli.ok("breach", "letter", breach, "--subject", subject_id)
    text = result.stdout
    assert result.stderr == ""
    assert max(len(line) for line in text.splitlines()) <= 72
    flat = " ".join(text.split())
    assert flat.startswith("Pigment.lab ")
    assert "Dear Ada Lovelace," in flat and "1 Test Street" in flat
    assert "25 November 2026" in flat  # dated today (the fixed clock), in words
    assert f"Our reference: {breach}" in flat
    # Art. 34(2): the nature, in clear and plain language ...
    assert "On 23 November 2026, information about you was disclosed to" in flat
    assert "We became aware of it on 24 November 2026." in flat
    assert "\n\n    A letter about your care was posted to another patient.\n" in text
    assert "Medical history" in flat or "medical history" in flat.lower()
    # ... the DPO or other contact point ...
    assert "data protection officer" in flat and "Data Protection Officer, privacy@pigment" in flat
    # ... the likely consequences, the measures taken or proposed ...
    assert "What this may mean for you Someone may learn of your treatment." in flat
    assert "We recalled the letter and retrained staff. Watch for scam calls." in flat
    # ... and the right to complain to the regulator named by the policy.
    assert "right to complain" in flat and "Wycliffe House" in flat
    assert "Article 34" in flat
    assert "health data" not in flat  # the assessment's reason is internal
    [(subject, detail)] = _audit(db, "breach letter")
    assert subject == subject_id and detail == {"breach": breach}


def test_without_subject_a_dear_patient_letter_for_a_mail_merge(cli, subject_id: str,  # noqa: ANN001
                                                                db: Path) -> None:
    breach = _breach(cli, "--approx-subjects", "40")
    text = cli.ok("breach", "letter", breach).stdout
    assert "Dear patient," in text and "Ada" not in text
    [(subject, detail)] = _audit(db, "breach letter")
    assert subject is None and detail == {"breach": breach}


def test_html_out_is_a_new_private_file_never_overwritten(cli, subject_id: str,  # noqa: ANN001
                                                          db: Path, tmp_path: Path) -> None:
    breach = _breach(cli, "--subjects", subject_id)
    out = tmp_path / "breach-letter.html"
    result = cli.ok("breach", "letter", breach, "--subject", subject_id, "--format", "html",
                    "--out", str(out))
    assert result.stdout == ""
    assert breach in result.stderr and "Ada" not in result.stderr
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    page = out.read_text()
    assert page.startswith("<!DOCTYPE html>") and "<h2>What this may mean for you</h2>" in page
    assert "Dear Ada Lovelace," in page and "Wycliffe House" in page
    again = cli("breach", "letter", breach, "--subject", subject_id, "--out", str(out))
    assert "already exists" in _one_line(again, ExitCode.BAD_INPUT)
    assert out.read_text() == page
    assert len(_audit(db, "breach letter")) == 1  # the refused one is not recorded


def test_hostile_free_text_is_inert(cli, subject_id: str, db: Path,  # noqa: ANN001
                                    tmp_path: Path) -> None:
    breach = _breach(cli, "--subjects", subject_id, description=HOSTILE, consequences=HOSTILE,
                     measures=HOSTILE)
    conn = sqlite3.connect(db)
    with conn:
        conn.execute("UPDATE breaches SET measures = measures || ? WHERE id = ?",
                     (CONTROLS, breach))
    conn.close()
    page = cli.ok("breach", "letter", breach, "--format", "html").stdout
    assert "<script>" not in page and page.count("&lt;script&gt;alert(1)&lt;/script&gt;") == 3
    assert "{{ 7*7 }}" in page.replace("&#39;", "'") and "49" not in page  # text, not a template
    text = cli.ok("breach", "letter", breach).stdout
    for bad in ("\x1b", "\x07", "\x00", "\x0c", "\u202e", "\r"):
        assert bad not in page and bad not in text
    assert "<script>alert(1)</script>" in text  # plain text: shown as typed, never run
    # The forged closing stays inside the indented quote: the letter's own is the only
    # unindented one.
    assert [ln for ln in text.splitlines() if ln.startswith("Yours sincerely")] == \
        ["Yours sincerely,"]
    for _, detail in _audit(db, "breach letter"):
        assert detail == {"breach": breach}


@pytest.mark.parametrize("risk", [None, "none", "risk"])
def test_refused_unless_assessed_high(cli, store: Path, db: Path,  # noqa: ANN001
                                      risk: str | None) -> None:
    breach = _breach(cli, risk=risk)
    said = _one_line(cli("breach", "letter", breach), ExitCode.REFUSED)
    assert "Art. 34" in said and "high risk" in said
    assert _audit(db, "breach letter") == []


def test_subject_not_linked_is_bad_input(cli, subject_id: str, db: Path) -> None:  # noqa: ANN001
    other = cli.ok("subject", "add", "--name", "Grace Hopper").stdout.strip()
    breach = _breach(cli, "--subjects", subject_id)
    said = _one_line(cli("breach", "letter", breach, "--subject", other), ExitCode.BAD_INPUT)
    assert f"{other} is not linked to breach {breach}" in said and "Grace" not in said
    said = _one_line(cli("breach", "letter", breach, "--subject", "Grace Hopper"),
                     ExitCode.BAD_INPUT)
    assert "Grace" not in said
    assert _audit(db, "breach letter") == []


@pytest.mark.parametrize(("args", "said"), [
    (["B-ZZZZZ"], "no breach B-ZZZZZ"),
    (["{breach}", "--format", "pdf"], "--format"),
])
def test_bad_input(cli, store: Path, db: Path, args: list[str], said: str) -> None:  # noqa: ANN001
    breach = _breach(cli)
    result = cli("breach", "letter", *[a.format(breach=breach) for a in args])
    assert said in _one_line(result, ExitCode.BAD_INPUT)
    assert _audit(db, "breach letter") == []


@pytest.mark.parametrize("missing", ["consequences", "measures"])
def test_consequences_and_measures_must_be_recorded_first(cli, store: Path,  # noqa: ANN001
                                                         missing: str) -> None:
    breach = _breach(cli, **{missing: ""})
    said = _one_line(cli("breach", "letter", breach), ExitCode.BAD_INPUT)
    assert f"--{missing}" in said and "Art. 34(2)" in said


def test_out_is_checked_before_the_audit_entry(cli, store: Path, db: Path,  # noqa: ANN001
                                               tmp_path: Path) -> None:
    breach = _breach(cli)
    result = cli("breach", "letter", breach, "--out", str(db))
    assert "store's own files" in _one_line(result, ExitCode.BAD_INPUT)
    result = cli("breach", "letter", breach, "--out", str(tmp_path / "nowhere" / "l.txt"))
    assert "no folder" in _one_line(result, ExitCode.BAD_INPUT)
    assert _audit(db, "breach letter") == []


def test_no_dpo_names_the_clinic_as_contact_point(cli, store: Path, tmp_path: Path) -> None:  # noqa: ANN001
    policy = edited_policy(tmp_path, 'dpo = "Data Protection Officer, privacy@pigment.example"\n',
                           "")
    cli.ok("policy", "apply", str(policy))
    breach = _breach(cli)
    flat = " ".join(cli.ok("breach", "letter", breach).stdout.split())
    assert "You can contact us about this breach at privacy@pigment.example or on 020 7946 " \
        "0000." in flat


def test_domain_render_is_refused_below_high(cli, store: Path, db: Path) -> None:  # noqa: ANN001
    breach = _breach(cli, risk="risk")
    with domain(db) as s, pytest.raises(Refused):
        render_breach_letter(s, breach)
