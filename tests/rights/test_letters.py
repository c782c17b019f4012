"""Letters about requests through the domain API: every template in both formats for a request of
the right kind, the states each letter needs, dates in words in the clinic's time, the regulator
from the policy, hostile names and reasons made inert, and a clinic's own templates."""

from __future__ import annotations

import html
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
            # an erasure is done only when nothing was kept (rights.requests.close)
            done = {"whole_subject": True} if kind == "erasure" else {}
            record_answer(s, rid, subject, ANSWER[kind], **done)
        reg.close(s, rid, outcome=outcome, reason=reason)
    return rid


def render(db: Path, rid: str, template: str, fmt: str = "txt", now: datetime | None = None,
           **extra: str | None) -> str:
    if template == "restriction-lifting" and "lift_on" not in extra:
        extra["lift_on"] = "2026-12-10"
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
    if template == "restriction-lifting":
        return _restricted(db, person, "newsletter")
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
    assert "Wrong date of birth" not in text  # the note is the clinic's own summary
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
    assert "we need to confirm your identity" in text
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
    with pytest.raises(BadInput, match="clarification and restriction-lifting letters only"):
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
            "erasure": "We have erased the personal data you asked us to erase",
            "restriction": "we will only store it",
            "objection": "We have acted on your objection"}[kind]
    assert said in text
    assert "judicial remedy" not in text  # all done: nothing refused


def test_partly_done_says_what_was_not_done_and_why(store: Path, person: str) -> None:
    rid = _closed(store, person, "rectification", "partly-done", "Only the address was wrong")
    text = " ".join(render(store, rid, "completed", "html").split())
    assert "except as described below" in text
    assert "What we have not done, and why" in text and "Only the address was wrong" in text
    assert "judicial remedy" in text


def test_an_objection_to_marketing_is_absolute_and_names_the_purpose(store: Path,
                                                                    person: str) -> None:
    rid = _closed(store, person, "objection", purpose="newsletter")
    text = " ".join(render(store, rid, "completed").split())
    assert "Electronic newsletters" in text  # the policy's label
    assert "That objection is absolute" in text


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
    rid = _closed(store, None, "access", person_name="Alan Turing",
                  person_email="at@example.org")
    text = " ".join(render(store, rid, "nothing-held").split())
    assert "we hold no personal data about you (UK GDPR Article 15)" in text
    assert "your name and email address" in text
    erasure = _closed(store, None, "erasure", person_name="Alan Turing")
    text = " ".join(render(store, erasure, "nothing-held").split())
    assert "for us to erase" in text and "Article 15" not in text
    assert "your name, as you gave it" in text
    with pytest.raises(BadInput, match=person) as wrong:
        render(store, _open(store, person, "access"), "nothing-held")
    assert "Grace" not in wrong.value.message  # the id, never the name
    closed = _closed(store, None, "access", person_name="A B")
    assert "we hold no personal data about you" in " ".join(
        render(store, closed, "nothing-held").split())
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


# --- what the reviewers found (a practice manager and a data-protection practitioner) ------------


def _lines(text: str) -> str:
    """The letter's words on one line (HTML entities read as the characters they show)."""
    return " ".join(html.unescape(text).split())


@pytest.mark.parametrize("fmt", letters.FORMATS)
def test_the_acknowledgement_never_quotes_the_clinics_internal_note(store: Path, person: str,
                                                                   fmt: str) -> None:
    rid = _open(store, person, "rectification", note="Pt rude on phone; DOB typo on file")
    text = render(store, rid, "acknowledgement", fmt)
    assert "rude" not in text and "DOB typo" not in text
    assert "recorded it as" not in text


def test_no_template_can_read_the_note(store: Path, person: str, tmp_path: Path) -> None:
    own = store.parent / "our-letters"
    own.mkdir()
    (own / "acknowledgement.txt.j2").write_text("Note: {{ request.note }}\n")
    _with_letters(store, tmp_path, "our-letters")
    rid = _open(store, person, "access", note="Internal summary")
    with pytest.raises(BadInput) as failed:
        render(store, rid, "acknowledgement")
    assert "Internal summary" not in failed.value.message


@pytest.mark.parametrize("fmt", letters.FORMATS)
def test_clarification_says_the_clock_starts_again_the_day_after_the_reply(
        store: Path, person: str, fmt: str) -> None:
    rid = _open(store, person, "access")
    with domain(store, at("2026-11-23")) as s:
        reg.pause(s, rid, reason="Which clinic did you visit?", on="2026-11-23")
    text = _lines(render(store, rid, "clarification", fmt))
    assert "starts again on the day after your reply arrives" in text
    assert "starts again on the day your reply arrives" not in text
    # ... which is how the clock counts it: the day the reply arrives is still paused.
    with domain(store) as s:
        view = reg.resume(s, rid, on="2026-11-25")
    assert view.paused_days == 3  # 23, 24 and 25 November


def _objected(db: Path, person: str, purpose: str, *, on_request: str | None = None,
              outcome: str | None = None, reason: str | None = None) -> str:
    """An objection request answered by `object_to(purpose)` and closed."""
    from pigment_cli.records.objections import object_to

    extra = {} if on_request is None else {"purpose": on_request}
    rid = _open(db, person, "objection", **extra)
    with domain(db) as s:
        object_to(s, person, purpose, request_id=rid)
        reg.close(s, rid, outcome=outcome, reason=reason)
    return rid


@pytest.mark.parametrize("fmt", letters.FORMATS)
def test_an_objection_to_a_consent_purpose_is_a_withdrawal_of_consent(store: Path, person: str,
                                                                      fmt: str) -> None:
    rid = _objected(store, person, "cookies", on_request="cookies")
    text = _lines(render(store, rid, "completed", fmt))
    assert "Website cookies beyond those strictly necessary" in text
    assert "withdrawal of your consent" in text and "Article 7(3)" in text
    assert "Article 21" not in text


@pytest.mark.parametrize("fmt", letters.FORMATS)
def test_an_objection_on_legitimate_interests_is_not_claimed_as_unconditional(
        store: Path, person: str, fmt: str) -> None:
    rid = _objected(store, person, "security", on_request="security")
    text = _lines(render(store, rid, "completed", fmt))
    assert "Security of our premises (CCTV)" in text and "Article 21(1)" in text
    assert "We will not add new information about you for it or share your data for it" in text
    assert "compelling legitimate grounds" in text and "legal claims" in text
    assert "we will tell you" in text
    assert "complain to the Information Commissioner's Office (ICO)" in text
    assert "absolute" not in text and "Article 7(3)" not in text


@pytest.mark.parametrize("fmt", letters.FORMATS)
def test_an_objection_to_direct_marketing_is_absolute(store: Path, person: str, fmt: str) -> None:
    rid = _objected(store, person, "newsletter", on_request="newsletter")
    text = _lines(render(store, rid, "completed", fmt))
    assert "Electronic newsletters" in text
    assert "absolute" in text and "Article 21(2) and (3)" in text
    assert "we will not use your email address for marketing again" in text
    assert "compelling legitimate grounds" not in text


def test_an_objection_opened_without_a_purpose_names_the_purpose_objected_to(
        store: Path, person: str) -> None:
    rid = _objected(store, person, "security")
    text = _lines(render(store, rid, "completed"))
    assert "(for: Security of our premises (CCTV))" in text  # the heading's phrase
    assert "compelling legitimate grounds" in text


def test_an_objection_nobody_recorded_makes_no_claim(store: Path, person: str) -> None:
    rid = _closed(store, person, "objection")  # answered, but no objection on record
    text = _lines(render(store, rid, "completed"))
    assert "We have acted on your objection" in text
    assert "stopped using" not in text


@pytest.mark.parametrize("fmt", letters.FORMATS)
def test_nothing_held_does_not_contradict_itself_and_says_how_long_the_request_is_kept(
        store: Path, person: str, fmt: str) -> None:
    rid = _closed(store, None, "erasure", person_name="Alan Turing",
                  person_email="at@example.org")
    text = _lines(render(store, rid, "nothing-held", fmt))
    assert "do not hold or otherwise use any personal data about you" not in text
    assert "Apart from the record of this request, we hold no personal data about you" in text
    assert "no other personal data of yours for us to erase" in text
    assert "your name and email address, as you gave them to us" in text
    assert "We keep it for 2 years after we answer your request" in text
    assert "and then delete it" in text


def test_nothing_held_takes_the_policys_keep_closed(store: Path, person: str,
                                                    tmp_path: Path) -> None:
    source = edited_policy(tmp_path, 'keep_closed = "2y"', 'keep_closed = "18m"').read_text()
    with domain(store) as s:
        apply_policy(s, parse_policy(source))
    rid = _closed(store, None, "access", person_name="Alan Turing")
    text = _lines(render(store, rid, "nothing-held"))
    assert "We keep it for 18 months after we answer your request" in text
    assert "your name, as you gave it to us" in text


@pytest.mark.parametrize("text, words", [("2y", "2 years"), ("1y", "1 year"), ("1m", "1 month"),
                                         ("18m", "18 months"), ("6w", "6 weeks"),
                                         ("1d", "1 day"), ("30d", "30 days")])
def test_durations_in_words(text: str, words: str) -> None:
    assert letters.duration_words(text) == words


def _restricted(db: Path, person: str, purpose: str | None = None, *,
                tied: bool = True) -> str:
    """A restriction request, and a restriction in force (tied to it, or not)."""
    from pigment_cli.records.restrictions import restrict

    rid = _open(db, person, "restriction", **({"purpose": purpose} if purpose else {}))
    with domain(db) as s:
        restrict(s, person, purpose=purpose, request_id=rid if tied else None)
    return rid


@pytest.mark.parametrize("fmt", letters.FORMATS)
def test_restriction_lifting_tells_the_person_before_and_from_when(store: Path, person: str,
                                                                   fmt: str) -> None:
    rid = _restricted(store, person, "newsletter")
    text = _lines(render(store, rid, "restriction-lifting", fmt, lift_on="2026-12-10",
                         detail="You confirmed your details are now correct"))
    assert "Electronic newsletters" in text
    assert "25 November 2026" in text  # since (the restriction began on the fixed clock's day)
    assert "we will lift this restriction from 10 December 2026" in text
    assert "Article 18(3)" in text
    assert "You confirmed your details are now correct" in text
    assert "please contact us before 10 December 2026" in text
    assert "complain to the data protection regulator, the Information Commissioner's Office (ICO)" in text


def test_restriction_lifting_of_every_purpose_and_without_a_reason(store: Path,
                                                                   person: str) -> None:
    rid = _restricted(store, person)
    text = _lines(render(store, rid, "restriction-lifting", lift_on="2026-12-01"))
    assert "for every purpose" in text and "Our reason" not in text
    assert "1 December 2026" in text


def test_restriction_lifting_for_a_restriction_request_not_tied_to_it(store: Path,
                                                                      person: str) -> None:
    rid = _restricted(store, person, "newsletter", tied=False)
    assert "Electronic newsletters" in _lines(render(store, rid, "restriction-lifting",
                                                     lift_on="2026-12-10"))
    access = _open(store, person, "access")  # another kind: only a restriction tied to it
    with pytest.raises(BadInput, match="no restriction in force"):
        render(store, access, "restriction-lifting", lift_on="2026-12-10")


def test_restriction_lifting_needs_a_restriction_in_force(store: Path, person: str) -> None:
    rid = _open(store, person, "restriction")
    with pytest.raises(BadInput, match="no restriction in force") as none:
        render(store, rid, "restriction-lifting", lift_on="2026-12-10")
    assert "Grace" not in none.value.message
    rid = _restricted(store, person)
    conn = sqlite3.connect(store)
    conn.execute("UPDATE restrictions SET ended_at = '2026-11-25T10:00:00'")  # lifted already
    conn.commit()
    conn.close()
    with pytest.raises(BadInput, match="no restriction in force"):
        render(store, rid, "restriction-lifting", lift_on="2026-12-10")


def test_restriction_lifting_needs_a_day_after_the_letter(store: Path, person: str) -> None:
    rid = _restricted(store, person)
    with pytest.raises(BadInput, match="--lift-on is required"):
        render(store, rid, "restriction-lifting", lift_on=None)
    for day in ("2026-11-25", "2026-11-01"):  # today, or the past: the person must hear first
        with pytest.raises(BadInput, match="after the letter's date"):
            render(store, rid, "restriction-lifting", lift_on=day)
    with pytest.raises(BadInput, match="not a date"):
        render(store, rid, "restriction-lifting", lift_on="soon")
    with pytest.raises(BadInput, match="--lift-on is for the restriction-lifting letter only"):
        render(store, _open(store, person, "access"), "acknowledgement", lift_on="2026-12-10")


def test_restriction_lifting_with_two_restrictions_and_no_scope_to_choose(store: Path,
                                                                          person: str) -> None:
    _restricted(store, person, "newsletter", tied=False)
    _restricted(store, person, "cookies", tied=False)
    rid = _open(store, person, "restriction", purpose="personalised_ads")
    with pytest.raises(BadInput, match="newsletter, cookies|cookies, newsletter"):
        render(store, rid, "restriction-lifting", lift_on="2026-12-10")
    same = _open(store, person, "restriction", purpose="cookies")
    assert "Website cookies" in render(store, same, "restriction-lifting", lift_on="2026-12-10")


@pytest.mark.parametrize("fmt", letters.FORMATS)
def test_id_request_asks_only_to_confirm_identity_with_examples(store: Path, person: str,
                                                               fmt: str) -> None:
    rid = _open(store, person, "erasure")
    text = _lines(render(store, rid, "id-request", fmt))
    assert "we need to confirm your identity before we can act on your request" in text
    assert "Article 12(6)" in text and "reasonable doubts" in text
    assert "Any one of the following is enough; these are only examples" in text
    assert "copy of your passport or photo driving licence" not in text
    assert "Please send us:" not in text


@pytest.mark.parametrize("fmt", letters.FORMATS)
def test_a_partly_done_erasure_lists_what_was_kept_and_why(store: Path, person: str,
                                                           fmt: str) -> None:
    rid = _open(store, person, "erasure")
    with domain(store) as s:
        record_answer(s, rid, person, "erase", erased_items=2, kept_items=3, whole_subject=False,
                      kept=[{"category": "payment", "items": 2, "why": "tax", "until": "2033"},
                            {"category": "medical_history", "items": 1, "why": "care",
                             "until": "2034"}])
        reg.close(s, rid, outcome="partly-done", reason="We must keep payment records for 6 "
                  "years (HMRC) and your medical history for 8 years (NHS Records Code)")
    text = _lines(render(store, rid, "completed", fmt))
    assert "some data" in text and "What we have kept" in text
    assert "Payments and refunds" in text and "Medical history" in text  # the policy's labels
    assert "Why we have kept it" in text and "payment records for 6 years (HMRC)" in text
    assert "complain to the data protection regulator, the Information Commissioner's Office (ICO)" in text
    assert "judicial remedy" in text and "Article 12(4)" in text
    assert "What we have not done" not in text


def test_a_partly_done_erasure_without_categories_relies_on_the_reason(store: Path,
                                                                      person: str) -> None:
    rid = _closed(store, person, "erasure", "partly-done", "Health records kept: Art. 17(3)(b)")
    text = _lines(render(store, rid, "completed"))
    assert "What we have kept, and why: Health records kept: Art. 17(3)(b)" in text
    assert "judicial remedy" in text and "Article 12(4)" in text


def _date_line(text: str, fmt: str) -> str:
    if fmt == "html":
        found = re.search(r'<p class="date">([^<]+)</p>', text)
        assert found
        return found.group(1)
    lines = text.splitlines()
    return next(line for line in lines if re.fullmatch(r"\d{1,2} [A-Z][a-z]+ \d{4}", line))


@pytest.mark.parametrize("fmt", letters.FORMATS)
def test_a_closed_requests_acknowledgement_is_reprinted_dated_the_day_it_was_acknowledged(
        store: Path, person: str, fmt: str) -> None:
    rid = _open(store, person, "rectification")
    with domain(store) as s:
        reg.acknowledge(s, rid, on="2026-11-21")
        record_answer(s, rid, person, "correct")
        reg.close(s, rid)
    text = render(store, rid, "acknowledgement", fmt)
    assert _date_line(text, fmt) == "21 November 2026"
    assert "printed on 25 November 2026" in _lines(text)  # a copy, and when it was printed


def test_a_closed_request_never_acknowledged_has_no_acknowledgement_to_reprint(
        store: Path, person: str) -> None:
    rid = _closed(store, person, "erasure")
    with pytest.raises(BadInput, match="no acknowledgement was recorded"):
        render(store, rid, "acknowledgement")


@pytest.mark.parametrize("fmt", letters.FORMATS)
def test_a_closed_requests_extension_is_reprinted_dated_the_day_it_was_extended(
        store: Path, person: str, fmt: str) -> None:
    rid = _open(store, person, "portability")
    with domain(store, at("2026-11-22")) as s:
        reg.extend(s, rid, reason="Records held in three systems", on="2026-11-22")
    with domain(store) as s:
        record_answer(s, rid, person, "export")
        reg.close(s, rid)
    later = at("2027-01-10")  # long after the first month: a reprint for the file is fine
    text = render(store, rid, "extension", fmt, now=later)
    assert _date_line(text, fmt) == "22 November 2026"
    assert "printed on 10 January 2027" in _lines(text)
    assert "Records held in three systems" in text


def test_a_reprinted_acknowledgement_gives_the_due_date_it_gave_then(store: Path,
                                                                    person: str) -> None:
    rid = _open(store, person, "access")
    with domain(store) as s:
        reg.acknowledge(s, rid, on="2026-11-21")
    with domain(store, at("2026-11-30")) as s:
        reg.extend(s, rid, reason="Records in three systems", on="2026-11-30")
    text = _lines(render(store, rid, "acknowledgement", now=at("2026-12-01")))
    assert "respond by 21 December 2026 at the latest" in text  # not the extended date
    assert "22 February 2027" not in text


def test_a_letter_not_tied_to_a_step_is_dated_today_and_is_no_copy(store: Path,
                                                                   person: str) -> None:
    rid = _closed(store, person, "erasure")
    text = render(store, rid, "completed")
    assert _date_line(text, "txt") == "25 November 2026"
    assert "printed on" not in text
