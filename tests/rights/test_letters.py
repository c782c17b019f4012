"""Letters about requests through the domain API: every template in both formats for a request of
the right kind, the states each letter needs, dates in words in the clinic's time, the regulator
from the policy, hostile names and reasons made inert, and a clinic's own templates."""

from __future__ import annotations

import re
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest
from conftest import domain, edited_policy

from pigment_cli.errors import BadInput, Refused
from pigment_cli.policy import check_source, default_source, parse_policy
from pigment_cli.records.answers import record_answer
from pigment_cli.records.subjects import add_subject
from pigment_cli.rights import letters
from pigment_cli.rights import requests as reg
from pigment_cli.store.session import apply_policy

# What answers a request of each kind (records.answers), recorded before closing it as done.
ANSWER = {"access": "export", "portability": "export", "rectification": "correct",
          "erasure": "erase", "restriction": "restrict", "objection": "object"}
RIGHTS = tuple(ANSWER)


def at(day: str, time: str = "12:00:00") -> datetime:
    return datetime.fromisoformat(f"{day}T{time}").replace(tzinfo=UTC)


@pytest.fixture
def person(store: Path) -> str:
    with domain(store, at("2026-01-05")) as s:
        return add_subject(s, name="Grace Hopper", address="7 Harbour Row\nPortsmouth").id


def _open(db: Path, subject: str | None, kind: str = "access", received: str = "2026-11-20",
          **extra: str) -> str:
    with domain(db) as s:
        return reg.open_request(s, subject, received=received, kind=kind, **extra).id


def _closed(db: Path, subject: str | None, kind: str, outcome: str | None = None,
            reason: str | None = None, **extra: str) -> str:
    rid = _open(db, subject, kind, **extra)
    with domain(db) as s:
        if kind == "complaint":
            reg.acknowledge(s, rid)
        elif outcome in (None, "done", "partly-done") and subject is not None:
            record_answer(s, rid, subject, ANSWER[kind])
        reg.close(s, rid, outcome=outcome, reason=reason)
    return rid


def render(db: Path, rid: str, template: str, fmt: str = "txt", now: datetime | None = None,
           **extra: str | None) -> str:
    with domain(db, now or at("2026-11-25", "10:30:00")) as s:
        return letters.render_letter(s, rid, template, fmt, **extra)


def _ready(db: Path, person: str, template: str) -> str:
    """A request in the state `template` is for."""
    if template == "acknowledgement":
        return _open(db, person, "rectification", note="Wrong date of birth")
    if template == "id-request":
        return _open(db, person, "erasure")
    if template == "clarification":
        rid = _open(db, person, "access")
        with domain(db) as s:
            reg.pause(s, rid, reason="Which years of records do you mean?")
        return rid
    if template == "extension":
        rid = _open(db, person, "portability")
        with domain(db) as s:
            reg.extend(s, rid, reason="Records held in three systems")
        return rid
    if template == "completed":
        return _closed(db, person, "erasure")
    if template == "refusal":
        return _closed(db, person, "objection", "refused", "We must keep it for legal claims")
    return _closed(db, None, "access", person_name="Alan Turing", person_email="at@example.org")


def _is_complete_html(text: str) -> None:
    assert text.startswith("<!DOCTYPE html>")
    assert '<html lang="en-GB">' in text
    assert re.search(r"<title>[^<]+</title>", text)
    assert text.count("<main") == 1 and text.count("</main>") == 1
    assert "@media print" in text
    assert "<script" not in text and "http" not in text.split("</head>")[0]
    assert text.rstrip().endswith("</html>")


# --- every template ----------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", letters.FORMATS)
@pytest.mark.parametrize("template", letters.TEMPLATES)
def test_every_template_renders_for_a_request_of_its_kind(store: Path, person: str,
                                                          template: str, fmt: str) -> None:
    rid = _ready(store, person, template)
    text = render(store, rid, template, fmt)
    assert rid in text
    assert "Pigment.lab" in text and "privacy@pigment.example" in text  # the policy's controller
    assert "25 November 2026" in text  # the letter's date, in words
    assert "20 November 2026" in text  # received on
    addressee = "Alan Turing" if template == "nothing-held" else "Grace Hopper"
    assert f"Dear {addressee}," in text
    if fmt == "html":
        _is_complete_html(text)
    else:
        assert max(len(line) for line in text.splitlines()) <= letters.TEXT_WIDTH
        assert "\n\n\n" not in text and "<p>" not in text


def test_acknowledgement_gives_the_due_date_and_the_first_month(store: Path, person: str) -> None:
    rid = _open(store, person, "rectification", note="Wrong date of birth")
    text = render(store, rid, "acknowledgement")
    assert "your request to correct your personal data" in text
    assert "respond by 21 December 2026 at the latest" in text  # 20 Dec 2026 is a Sunday
    assert "Wrong date of birth" in text
    assert "7 Harbour Row\nPortsmouth" in text  # the subject's postal address


def test_a_complaint_acknowledgement_promises_an_investigation_and_names_the_regulator(
        store: Path, person: str) -> None:
    rid = _open(store, person, "complaint")
    text = " ".join(render(store, rid, "acknowledgement").split())
    assert "investigate your complaint and reply to you without undue delay" in text
    assert "Information Commissioner's Office (ICO)" in text and "0303 123 1113" in text
    assert "respond by" not in text  # no statutory date for the reply


def test_id_request_says_the_clock_starts_when_proof_arrives(store: Path, person: str) -> None:
    rid = _open(store, person, "erasure")
    text = " ".join(render(store, rid, "id-request").split())
    assert "proof of your identity" in text
    assert "starts on the day we receive it" in text
    with domain(store) as s:
        reg.verify_id(s, rid)
    with pytest.raises(BadInput, match="already|no need"):
        render(store, rid, "id-request")
    with pytest.raises(BadInput, match="complaint"):
        render(store, _open(store, person, "complaint"), "id-request")


def test_clarification_takes_the_pause_reason_or_detail_and_says_the_clock_is_paused(
        store: Path, person: str) -> None:
    rid = _open(store, person, "access")
    with pytest.raises(BadInput, match="not paused"):
        render(store, rid, "clarification", detail="Which records?")
    with domain(store, at("2026-11-23")) as s:
        reg.pause(s, rid, reason="Which clinic did you visit?", on="2026-11-23")
    text = " ".join(render(store, rid, "clarification").split())
    assert "Which clinic did you visit?" in text
    assert "paused from 23 November 2026 until we receive your reply" in text
    text = render(store, rid, "clarification", detail="Which branch, please?")
    assert "Which branch, please?" in text and "Which clinic" not in text
    with pytest.raises(BadInput, match="clarification letter only"):
        render(store, rid, "acknowledgement", detail="anything")


def test_extension_needs_an_extended_request_and_the_first_month(store: Path, person: str) -> None:
    rid = _open(store, person, "access")
    with pytest.raises(BadInput, match="not extended") as refused:
        render(store, rid, "extension")
    assert refused.value.exit_code == 2
    with domain(store) as s:
        reg.extend(s, rid, reason="Many records\nin two systems")
    text = render(store, rid, "extension")
    assert "    Many records\n    in two systems" in text  # the reasons, quoted
    assert "22 February 2027" in " ".join(text.split())  # three months from 20 November, rolled
    assert "Article 12(3)" in text
    # The last day of the first month (21 December 2026) still may; the day after may not.
    render(store, rid, "extension", now=at("2026-12-21", "23:00:00"))  # 21 Dec in London
    with pytest.raises(Refused, match="first month") as late:
        render(store, rid, "extension", now=at("2026-12-22"))
    assert late.value.exit_code == 3


def test_refusal_gives_reasons_the_regulator_and_a_judicial_remedy(store: Path,
                                                                  person: str) -> None:
    rid = _closed(store, person, "erasure", "refused", "Manifestly unfounded:\nsee our letter")
    text = render(store, rid, "refusal")
    flat = " ".join(text.split())
    assert "    Manifestly unfounded:\n    see our letter" in text
    assert "Article 12(4)" in flat and "judicial remedy" in flat
    assert "Information Commissioner's Office (ICO)" in flat and "ico.org.uk" in flat


@pytest.mark.parametrize("template", ["refusal", "completed"])
def test_refusal_and_completed_need_a_request_closed_their_way(store: Path, person: str,
                                                               template: str) -> None:
    open_one = _open(store, person, "access")
    with pytest.raises(BadInput):
        render(store, open_one, template)
    other = (_closed(store, person, "erasure") if template == "refusal"
             else _closed(store, person, "erasure", "refused", "No"))
    with pytest.raises(BadInput, match="refus"):
        render(store, other, template)


@pytest.mark.parametrize("kind", RIGHTS)
def test_completed_says_what_was_done_for_each_kind(store: Path, person: str, kind: str) -> None:
    rid = _closed(store, person, kind)
    text = " ".join(render(store, rid, "completed").split())
    assert letters.KIND_PHRASES[kind] in text
    said = {"access": "report.html", "portability": "machine-readable form",
            "rectification": "We have corrected your personal data as you asked",
            "erasure": "We have erased your personal data as you asked",
            "restriction": "we will only store it", "objection": "We have stopped using"}[kind]
    assert said in text
    assert "judicial remedy" not in text  # all done: nothing refused


def test_partly_done_says_what_was_not_done_and_why(store: Path, person: str) -> None:
    rid = _closed(store, person, "erasure", "partly-done", "Health records kept: Art. 17(3)(b)")
    text = " ".join(render(store, rid, "completed", "html").split())
    assert "except as described below" in text
    assert "What we have not done, and why" in text and "Health records kept" in text
    assert "judicial remedy" in text


def test_an_objection_to_marketing_is_absolute_and_names_the_purpose(store: Path,
                                                                    person: str) -> None:
    rid = _closed(store, person, "objection", purpose="newsletter")
    text = " ".join(render(store, rid, "completed").split())
    assert "Electronic newsletters" in text  # the policy's label
    assert "objection to direct marketing is absolute" in text


@pytest.mark.parametrize("outcome, said", [
    ("upheld", "We have upheld your complaint."),
    ("partly-upheld", "We have upheld part of your complaint."),
    ("not-upheld", "We have not upheld your complaint."),
    ("withdrawn", "As you asked, we have closed your complaint"),
])
def test_a_complaint_outcome_with_the_right_to_go_to_the_regulator(store: Path, person: str,
                                                                   outcome: str, said: str) -> None:
    reason = None if outcome in ("upheld", "withdrawn") else "We found no error"
    rid = _closed(store, person, "complaint", outcome, reason)
    text = " ".join(render(store, rid, "completed").split())
    assert said in text
    assert "Your complaint: the outcome" in text
    assert "Information Commissioner's Office (ICO)" in text
    if reason:
        assert f"Our explanation: {reason}" in text
    else:
        assert "Our explanation" not in text


def test_nothing_held_confirms_no_data_for_a_person_not_in_the_store(store: Path,
                                                                    person: str) -> None:
    rid = _open(store, None, "access", person_name="Alan Turing", person_email="at@example.org")
    text = " ".join(render(store, rid, "nothing-held").split())
    assert "we do not hold or otherwise use any personal data about you" in text
    assert "(UK GDPR Article 15)" in text
    assert "your name and email address" in text
    erasure = _open(store, None, "erasure", person_name="Alan Turing")
    text = " ".join(render(store, erasure, "nothing-held").split())
    assert "for us to erase" in text and "Article 15" not in text
    assert "your name)" in text
    with pytest.raises(BadInput, match=person) as wrong:
        render(store, _open(store, person, "access"), "nothing-held")
    assert "Grace" not in wrong.value.message  # the id, never the name
    closed = _closed(store, None, "access", person_name="A B")
    assert "do not hold" in render(store, closed, "nothing-held")
    with pytest.raises(BadInput, match="nothing-held"):
        render(store, closed, "completed")


def test_a_letter_to_an_erased_subject_uses_a_neutral_greeting(store: Path, person: str) -> None:
    rid = _closed(store, person, "erasure")
    conn = sqlite3.connect(store)
    conn.execute("PRAGMA foreign_keys = ON")
    conn.execute("DELETE FROM subjects WHERE id = ?", (person,))
    conn.commit()
    conn.close()
    text = render(store, rid, "completed")
    assert "Dear Sir or Madam," in text and "Grace" not in text


def test_unknown_template_and_format_are_bad_input(store: Path, person: str) -> None:
    rid = _open(store, person)
    with pytest.raises(BadInput, match="unknown letter template"):
        render(store, rid, "threat")
    with pytest.raises(BadInput, match="unknown --format"):
        render(store, rid, "acknowledgement", "pdf")
    with pytest.raises(BadInput, match="no request"):
        render(store, "R-ZZZZZ", "acknowledgement")


# --- dates ---------------------------------------------------------------------------------------


def test_long_dates() -> None:
    assert letters.long_date("2026-12-02") == "2 December 2026"
    assert letters.long_date("2027-01-31T23:59:00") == "31 January 2027"
    assert letters.long_date(None) == ""


def test_the_letter_is_dated_by_the_clinics_clock(store: Path, person: str) -> None:
    """23:30 UTC on 30 June is 00:30 on 1 July in London (summer time)."""
    with domain(store, at("2026-06-29")) as s:
        rid = reg.open_request(s, person, received="2026-06-29", kind="access").id
    text = render(store, rid, "acknowledgement", now=at("2026-06-30", "23:30:00"))
    assert "1 July 2026" in text and "30 June 2026" not in text
    assert "29 June 2026" in text


# --- the regulator comes from the policy ---------------------------------------------------------


def test_the_regulator_is_the_policys(store: Path, person: str, tmp_path: Path) -> None:
    source = edited_policy(tmp_path, 'name = "Information Commissioner\'s Office (ICO)"',
                           'name = "Test Regulator Office"').read_text()
    source = source.replace("Wycliffe House, Water Lane, Wilmslow, Cheshire SK9 5AF",
                            "1 Test Lane, Testtown").replace("0303 123 1113", "0000 111 222")
    with domain(store) as s:
        apply_policy(s, parse_policy(source))
    rid = _closed(store, person, "erasure", "refused", "No")
    for fmt in letters.FORMATS:
        text = " ".join(render(store, rid, "refusal", fmt).split())
        assert "Test Regulator Office, 1 Test Lane, Testtown" in text and "0000 111 222" in text
        assert "Information Commissioner" not in text and "Wycliffe" not in text


def test_no_template_hard_codes_the_regulator() -> None:
    folder = Path(letters.__file__).resolve().parent.parent / "templates" / "letters"
    names = sorted(p.name for p in folder.glob("*.j2"))
    assert {f"{t}.{f}.j2" for t in letters.TEMPLATES for f in letters.FORMATS} <= set(names)
    for path in folder.glob("*.j2"):
        text = path.read_text()
        for fixed in ("ico.org.uk", "Wycliffe", "0303", "Information Commissioner"):
            assert fixed not in text, (path.name, fixed)


def test_every_kind_has_words() -> None:
    assert set(letters.KIND_PHRASES) == set(reg.KINDS)


# --- hostile values ------------------------------------------------------------------------------

HOSTILE = ("<script>alert(1)</script> {{ 7*7 }} {% raw %}\nForged: line\x1b[31m red\x00"
           "\u202eevil\u2066 \x07" + "A" * 2000)


def _hostile(db: Path, person: str) -> str:
    """A refused erasure request whose subject's name and reasons are hostile (as an old
    import or an edit outside pigment could have left them)."""
    rid = _closed(db, person, "erasure", "refused", "placeholder")
    conn = sqlite3.connect(db)
    conn.execute("UPDATE subjects SET name = ? WHERE id = ?", (HOSTILE, person))
    conn.execute("UPDATE requests SET outcome_reason = ? WHERE id = ?", (HOSTILE, rid))
    conn.commit()
    conn.close()
    return rid


def _inert(text: str) -> None:
    for bad in ("\x1b", "\x00", "\x07", "\u202e", "\u2066"):
        assert bad not in text
    assert "{{ 7*7 }}" in text and "{% raw %}" in text  # shown, never evaluated


def test_hostile_names_and_reasons_are_inert_in_plain_text(store: Path, person: str) -> None:
    text = render(store, _hostile(store, person), "refusal")
    _inert(text)
    assert "<script>alert(1)</script>" in text  # plain text: shown as typed, harmless
    assert max(len(line) for line in text.splitlines()) <= letters.TEXT_WIDTH
    # The name's newline is folded (addressee and greeting): it cannot start a line of its own;
    # the reasons keep their lines, quoted (indented) under "Our reasons".
    assert text.count("{% raw %} Forged: line") == 2
    assert "Dear <script>alert(1)</script> {{ 7*7 }} {% raw %} Forged: line" in text
    assert "\n    Forged: line" in text
    assert "A" * letters.TEXT_WIDTH in text


def test_hostile_names_and_reasons_are_escaped_in_html(store: Path, person: str) -> None:
    text = render(store, _hostile(store, person), "refusal", "html")
    _inert(text)
    assert "<script>" not in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert "A" * 2000 in text
    _is_complete_html(text)


def test_plain_keeps_reason_lines_and_folds_names() -> None:
    assert letters.plain("a\r\nb\x1b[0m\u202ec", multiline=True) == "a\nb [0mc"
    assert letters.plain("  Ada\n  Lovelace\t") == "Ada Lovelace"
    assert letters.plain("one\n\n\n\ntwo", multiline=True) == "one\n\ntwo"
    assert letters.plain(None) == ""


# --- a clinic's own templates --------------------------------------------------------------------


def _with_letters(db: Path, tmp_path: Path, folder: str) -> None:
    source = default_source().replace("[reports]", f'[letters]\nfolder = "{folder}"\n\n[reports]',
                                      1)
    with domain(db) as s:
        apply_policy(s, parse_policy(source))


def test_a_template_in_the_letters_folder_wins(store: Path, person: str, tmp_path: Path) -> None:
    own = store.parent / "our-letters"
    own.mkdir()
    (own / "acknowledgement.txt.j2").write_text(
        "Received {{ request.id }} for {{ person.name }} on {{ request.received }}.\n")
    _with_letters(store, tmp_path, "our-letters")  # relative to the store's directory
    rid = _open(store, person, "access")
    assert render(store, rid, "acknowledgement") == (
        f"Received {rid} for Grace Hopper on 20 November 2026.\n")
    assert "Dear Grace Hopper" in render(store, rid, "acknowledgement", "html")  # built-in


def test_an_absolute_letters_folder_and_an_override_of_the_layout(store: Path, person: str,
                                                                   tmp_path: Path) -> None:
    own = tmp_path / "elsewhere"
    own.mkdir()
    (own / "_base.html.j2").write_text(
        '<!DOCTYPE html><html lang="en-GB"><head><title>{% block title %}{% endblock %}'
        "</title></head><body><main>{% block body %}{% endblock %}<p>Kind regards</p></main>"
        "</body></html>\n")
    _with_letters(store, tmp_path, str(own))
    rid = _open(store, person, "access")
    text = render(store, rid, "acknowledgement", "html")
    assert "Kind regards" in text and "This letter acknowledges it" in text


def test_a_missing_letters_folder_is_bad_input(store: Path, person: str, tmp_path: Path) -> None:
    _with_letters(store, tmp_path, "no-such-folder")
    rid = _open(store, person, "access")
    with pytest.raises(BadInput, match=r"\[letters\] folder 'no-such-folder' is not a folder"):
        render(store, rid, "acknowledgement")


@pytest.mark.parametrize("body, said", [
    ("{{ request.id }", "acknowledgement.txt.j2, line 1"),
    ("{{ ''.__class__.__mro__ }}", "cannot be rendered"),
    ("{{ no_such_thing }}", "'no_such_thing' is undefined"),
    ("{{ person[person.name] }}", "a name or field the letter does not have"),
    ("{{ 1 // 0 }}", "ZeroDivisionError"),
    ('{% include "missing.txt.j2" %}', "there is no template 'missing.txt.j2'"),
    ('{% include "acknowledgement.txt.j2" %}', "RecursionError"),
])
def test_a_broken_or_hostile_override_is_bad_input_without_personal_data(
        store: Path, person: str, tmp_path: Path, body: str, said: str) -> None:
    own = store.parent / "our-letters"
    own.mkdir()
    (own / "acknowledgement.txt.j2").write_text(body + "\n")
    _with_letters(store, tmp_path, "our-letters")
    rid = _open(store, person, "access")
    with pytest.raises(BadInput) as failed:
        render(store, rid, "acknowledgement")
    assert said in failed.value.message
    assert "Grace" not in failed.value.message and "\n" not in failed.value.message


def test_the_letters_key_is_validated() -> None:
    for bad in ('[letters]\nfolder = 5\n', '[letters]\nfolder = ""\n', 'letters = "x"\n'):
        source = default_source().replace("[reports]", f"{bad}\n[reports]", 1)
        if bad.startswith("letters"):  # a top-level key must come before the first table
            source = bad + default_source()
        _, problems = check_source(source)
        assert any(p.level == "error" and p.key.startswith("letters") for p in problems), bad
    assert parse_policy(default_source()).letters_folder() is None
