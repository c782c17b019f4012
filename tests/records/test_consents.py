"""The consent ledger through the domain API: states, history, the audience query, the suppression
hash and the unsubscribe import."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pytest
from conftest import domain

from pigment_cli.errors import BadInput, NotFound
from pigment_cli.records import consents as consent
from pigment_cli.records.subjects import add_subject, get_subject


def _subject(db: Path, name: str = "Ada Lovelace", email: str | None = "ada@example.org",
             **fields) -> str:
    with domain(db) as s:
        return add_subject(s, name=name, email=email, **fields).id


def _grant(db: Path, sid: str, purpose: str = "newsletter", via: str = "paper_form", **kw):
    with domain(db) as s:
        return consent.grant(s, sid, purpose, via=via, **kw)


def _withdraw(db: Path, sid: str, purpose: str = "newsletter", via: str = "email", **kw):
    with domain(db) as s:
        return consent.withdraw(s, sid, purpose, via=via, **kw)


def _state(db: Path, sid: str, purpose: str = "newsletter") -> consent.ConsentState:
    with domain(db) as s:
        return next(st for st in consent.status(s, sid) if st.purpose == purpose)


def test_grant_withdraw_grant_gives_the_latest_state_and_full_history(store: Path) -> None:
    sid = _subject(store)
    _grant(store, sid, via="paper_form", evidence="form 114", at="2026-01-10")
    _withdraw(store, sid, via="newsletter_link", at="2026-05-01T08:00:00")
    result = _grant(store, sid, via="web_form", at="2026-09-02T12:00:00")
    assert result.recorded and result.event is not None and result.event.action == "grant"
    state = _state(store, sid)
    assert (state.state, state.since, state.channel, state.written) == (
        "granted", "2026-09-02T12:00:00", "web_form", True)
    assert state.notice_version == "2026-12"  # the policy version by default
    with domain(store) as s:
        events = consent.history(s, sid)
    assert [(e.action, e.at, e.channel, e.written) for e in events] == [
        ("grant", "2026-01-10T00:00:00", "paper_form", True),
        ("withdraw", "2026-05-01T08:00:00", "newsletter_link", False),
        ("grant", "2026-09-02T12:00:00", "web_form", True),
    ]
    assert events[0].evidence == "form 114" and events[0].recorded_by == "test-domain"


def test_status_lists_every_consent_purpose_never_asked_by_default(store: Path) -> None:
    sid = _subject(store)
    with domain(store) as s:
        states = consent.status(s, sid)
    assert [st.purpose for st in states] == [
        "newsletter", "satisfaction_survey", "personalised_ads", "cookies",
        "third_party_non_medical"]
    assert {st.state for st in states} == {"never asked"}


def test_granting_again_identically_records_nothing(store: Path) -> None:
    sid = _subject(store)
    _grant(store, sid, via="phone", at="2026-03-01")
    again = _grant(store, sid, via="phone", at="2026-04-01")
    assert not again.recorded and "already granted since 2026-03-01" in again.reason


def test_a_written_grant_confirming_a_phone_consent_is_recorded(store: Path) -> None:
    sid = _subject(store)
    _grant(store, sid, via="phone", at="2026-03-01")
    assert _grant(store, sid, via="paper_form", evidence="form 7", at="2026-03-05").recorded
    state = _state(store, sid)
    # granted without a break since the phone call; written since the form
    assert (state.since, state.channel, state.written) == ("2026-03-01T00:00:00", "paper_form", True)


def test_withdrawal_by_someone_never_asked_is_kept_and_a_second_one_is_not(store: Path) -> None:
    sid = _subject(store)
    first = _withdraw(store, sid, via="phone")
    assert first.recorded and _state(store, sid).state == "withdrawn"
    second = _withdraw(store, sid, via="email")
    assert not second.recorded and "already withdrawn" in second.reason
    with domain(store) as s:
        assert len(consent.history(s, sid)) == 1


def test_an_event_dated_before_the_latest_is_refused(store: Path) -> None:
    sid = _subject(store)
    _grant(store, sid, at="2026-06-01")
    with pytest.raises(BadInput, match="cannot be dated before"):
        _withdraw(store, sid, at="2026-05-01")
    assert _state(store, sid).state == "granted"


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"purpose": "care"}, "treatment contract, not on consent"),
    ({"purpose": "medical_records"}, "treatment contract"),
    ({"purpose": "security"}, "legitimate_interests"),
    ({"purpose": "bogus"}, "consent purposes are: newsletter, satisfaction_survey"),
    ({"via": "pigeon"}, "email, newsletter_link, web_form, paper_form, phone, in_clinic"),
    ({"at": "2026-12-01"}, "in the future"),
    ({"at": "2026-11-25T10:31:00"}, "in the future"),
    ({"at": "01/02/2026"}, "ISO"),
    ({"at": "2026-02-30"}, "real"),
    ({"evidence": "form\x00"}, "control characters"),
    ({"evidence": "x" * 201}, "longer than"),
])
def test_impossible_events_are_bad_input_and_record_nothing(store: Path, kwargs, message) -> None:
    sid = _subject(store)
    args = {"purpose": "newsletter", "via": "email", **kwargs}
    with pytest.raises(BadInput, match=message), domain(store) as s:
        consent.grant(s, sid, args.pop("purpose"), **args)
    with domain(store) as s:
        assert consent.history(s, sid) == []


def test_unknown_subject_is_not_found(store: Path) -> None:
    with pytest.raises(NotFound), domain(store) as s:
        consent.grant(s, "S-00000", "newsletter", via="email")


def test_a_consent_event_is_not_processing_for_a_purpose(store: Path) -> None:
    sid = _subject(store, processed_at="2020-01-01")
    _grant(store, sid, at="2026-02-03T04:05:06")
    with domain(store) as s:
        assert get_subject(s.conn, sid).last_processed_at == "2020-01-01"  # Art. 5(1)(e)


def test_the_ledger_cannot_be_updated(store: Path) -> None:
    sid = _subject(store)
    _grant(store, sid)
    conn = sqlite3.connect(store)
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        conn.execute("UPDATE consent_events SET action = 'withdraw'")
    conn.close()


def test_state_at_a_past_time(store: Path) -> None:
    sid = _subject(store)
    _grant(store, sid, at="2026-01-01")
    _withdraw(store, sid, at="2026-06-01")
    with domain(store) as s:
        events = consent.events_of(s.conn, sid)
    assert consent.state_from("newsletter", events, at="2026-03-01T00:00:00").granted
    assert consent.state_from("newsletter", events, at="2025-12-31T23:59:59").state == "never asked"
    assert not consent.state_from("newsletter", events).granted


def test_check_answers_granted_and_written(store: Path) -> None:
    sid = _subject(store)
    with domain(store) as s:
        assert not consent.check(s, sid, "newsletter").ok
    _grant(store, sid, via="phone")
    with domain(store) as s:
        assert consent.check(s, sid, "newsletter").ok
        result = consent.check(s, sid, "newsletter", written=True)
        assert not result.ok and "not written" in result.reason


# --- suppression hash -------------------------------------------------------------------------


def test_email_hmac_ignores_case_and_spaces_and_depends_on_the_store_key(store: Path,
                                                                          tmp_path: Path) -> None:
    from pigment_cli.store.connection import init_store

    with domain(store) as s:
        digest = consent.email_hmac(s.conn, "Ada@Example.org ")
        assert digest == consent.email_hmac(s.conn, "ada@example.org")
        assert len(digest) == 64 and "ada" not in digest
    other = init_store(tmp_path / "other.db")
    assert consent.email_hmac(other, "ada@example.org") != digest
    other.close()


# --- audience ---------------------------------------------------------------------------------


def _suppress(db: Path, email: str) -> None:
    with domain(db) as s:
        s.conn.execute("INSERT INTO suppression (email_hmac, added_at) VALUES (?, ?)",
                       (consent.email_hmac(s.conn, email), s.stamp))


def test_audience_is_exactly_the_subjects_granted_now(store: Path) -> None:
    granted = _subject(store, "Granted", "granted@example.org")
    withdrawn = _subject(store, "Withdrawn", "withdrawn@example.org")
    regranted = _subject(store, "Regranted", "regranted@example.org")
    never = _subject(store, "Never", "never@example.org")
    suppressed = _subject(store, "Suppressed", "suppressed@example.org")
    other_purpose = _subject(store, "Survey", "survey@example.org")
    no_email = _subject(store, "No Email", None)
    _grant(store, granted, via="phone", at="2026-02-01")
    _grant(store, granted, via="paper_form", at="2026-03-01")
    _grant(store, withdrawn, at="2026-01-01")
    _withdraw(store, withdrawn, at="2026-02-01")
    _grant(store, regranted, at="2026-01-01")
    _withdraw(store, regranted, at="2026-02-01")
    _grant(store, regranted, via="web_form", at="2026-04-01")
    _withdraw(store, never, at="2026-02-01")
    _grant(store, suppressed, at="2026-01-01")
    _suppress(store, "SUPPRESSED@example.org")
    _grant(store, other_purpose, "satisfaction_survey")
    _grant(store, no_email, via="in_clinic", at="2026-05-05")
    with domain(store) as s:
        members = consent.audience(s, "newsletter")
        written = consent.audience(s, "newsletter", written_only=True)
    by_id = {m.id: m for m in members}
    assert set(by_id) == {granted, regranted, no_email}
    assert by_id[granted].granted_since == "2026-02-01T00:00:00"  # unbroken since the phone call
    assert by_id[regranted].granted_since == "2026-04-01T00:00:00"
    assert by_id[granted].email == "granted@example.org" and by_id[granted].name == "Granted"
    assert {m.id for m in written} == {granted, regranted}


def test_audience_never_contains_an_erased_subject(store: Path) -> None:
    sid = _subject(store)
    _grant(store, sid)
    with domain(store) as s:
        s.conn.execute("DELETE FROM subjects WHERE id = ?", (sid,))
        assert consent.audience(s, "newsletter") == []


def test_audience_rejects_a_non_consent_purpose(store: Path) -> None:
    with pytest.raises(BadInput, match="contract"), domain(store) as s:
        consent.audience(s, "care")


def test_audience_is_one_quick_query_on_many_subjects(store: Path) -> None:
    """20,000 subjects with two or three events each: well under a second on a laptop."""
    conn = sqlite3.connect(store)
    stamp = "2026-01-01T00:00:00"
    conn.executemany(
        "INSERT INTO subjects (id, name, email, created_at, updated_at, last_processed_at) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        [(f"S-{i:05d}", f"Name {i}", f"p{i}@example.org", stamp, stamp, stamp)
         for i in range(20_000)])
    events = []
    for i in range(20_000):
        sid = f"S-{i:05d}"
        events.append((sid, "grant", "2026-01-01T00:00:00"))
        if i % 3 == 0:
            events.append((sid, "withdraw", "2026-02-01T00:00:00"))
        if i % 6 == 0:
            events.append((sid, "grant", "2026-03-01T00:00:00"))
    conn.executemany(
        "INSERT INTO consent_events (subject_id, purpose, action, channel, written, at, "
        "recorded_by, recorded_at) VALUES (?, 'newsletter', ?, 'email', 1, ?, 't', ?)",
        [(*e, stamp) for e in events])
    conn.commit()
    conn.close()
    with domain(store) as s:
        started = time.perf_counter()
        members = consent.audience(s, "newsletter")
        elapsed = time.perf_counter() - started
    expected = sum(1 for i in range(20_000) if i % 3 != 0 or i % 6 == 0)
    assert len(members) == expected
    assert elapsed < 5  # generous: the machine is shared; about 0.1 s when idle


# --- unsubscribe files ------------------------------------------------------------------------


def test_parse_mailing_service_csv_with_bom_mixed_case_headers_and_blank_lines() -> None:
    text = ("\ufeffFirst Name,EMAIL address,Unsub_Time\n\n"
            "Ada,Ada@Example.org,2026-10-01 10:00:00\n"
            "  \n"
            "Bo,bo@example.org,\n"
            "Nobody,not-an-email,2026-10-01\n")
    rows, invalid = consent.parse_unsubscribes(text.removeprefix("\ufeff"))
    assert rows == [(3, "ada@example.org", "2026-10-01 10:00:00"), (5, "bo@example.org", None)]
    assert invalid == [6]


@pytest.mark.parametrize("header", ["email", "E-mail", "Email Address", "EMAIL_ADDRESS", "Mail"])
def test_email_header_names(header: str) -> None:
    rows, _ = consent.parse_unsubscribes(f"{header};unsubscribed_at\nx@example.org;2026-01-02\n")
    assert rows == [(2, "x@example.org", "2026-01-02")]


def test_a_plain_list_of_emails() -> None:
    rows, invalid = consent.parse_unsubscribes("a@example.org\n\nB@Example.org\nnonsense\n")
    assert rows == [(1, "a@example.org", None), (3, "b@example.org", None)]
    assert invalid == [4]


def test_a_csv_without_an_email_column_is_bad_input() -> None:
    with pytest.raises(BadInput, match="no email column"):
        consent.parse_unsubscribes("name,phone\nAda,0123\n")


def _write(tmp_path: Path, text: str, name: str = "unsubscribes.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def _import(db: Path, path: Path, **kw) -> consent.ImportReport:
    with domain(db) as s:
        return consent.import_withdrawals(s, path, purpose=kw.pop("purpose", "newsletter"),
                                          via=kw.pop("via", "newsletter_link"), **kw)


def test_import_withdraws_matched_subjects_at_the_files_time_and_is_idempotent(
        store: Path, tmp_path: Path) -> None:
    ada = _subject(store, "Ada", "ada@example.org")
    bo = _subject(store, "Bo", "bo@example.org")
    cy = _subject(store, "Cy", "cy@example.org")
    _grant(store, ada, at="2026-01-01")
    _grant(store, bo, at="2026-01-01")
    _withdraw(store, bo, via="email", at="2026-02-01")
    _grant(store, cy, at="2026-01-01")
    path = _write(tmp_path, "Email Address,UNSUB_TIME\n"
                  "ADA@example.org,2026-10-01 09:00:00\n"
                  "bo@example.org,2026-10-02 09:00:00\n"
                  "\n"
                  "stranger@example.org,2026-10-03 09:00:00\n"
                  "ada@example.org,2026-09-01 09:00:00\n")
    report = _import(store, path)
    assert (report.rows, report.emails, report.duplicates, report.matched, report.unknown) == (
        4, 3, 1, 2, 1)
    assert (report.withdrawn, report.already_withdrawn, report.unknown_lines) == (1, 1, [5])
    state = _state(store, ada)
    assert (state.state, state.since, state.channel) == (
        "withdrawn", "2026-10-01T09:00:00", "newsletter_link")
    assert _state(store, cy).state == "granted"
    with domain(store) as s:
        count = s.conn.execute("SELECT count(*) FROM consent_events").fetchone()[0]
    again = _import(store, path)
    assert (again.withdrawn, again.already_withdrawn) == (0, 2)
    with domain(store) as s:
        assert s.conn.execute("SELECT count(*) FROM consent_events").fetchone()[0] == count


def test_import_keeps_a_grant_given_after_the_unsubscribe(store: Path, tmp_path: Path) -> None:
    sid = _subject(store)
    _grant(store, sid, via="paper_form", at="2026-11-01")
    report = _import(store, _write(tmp_path, "email,unsub_time\nada@example.org,2026-10-01\n"))
    assert (report.withdrawn, report.granted_later) == (0, 1)
    assert _state(store, sid).granted


def test_import_without_times_withdraws_now_and_reaches_every_subject_with_the_email(
        store: Path, tmp_path: Path) -> None:
    first = _subject(store, "Parent", "family@example.org")
    second = _subject(store, "Child", "family@example.org", duplicate_ok=True)  # a family email
    _grant(store, first)
    report = _import(store, _write(tmp_path, "family@example.org\n"))
    assert (report.matched, report.withdrawn) == (1, 2)  # never-asked opt-outs are kept too
    assert _state(store, first).since == "2026-11-25T10:30:00"
    assert _state(store, second).state == "withdrawn"


def test_import_dry_run_records_nothing(store: Path, tmp_path: Path) -> None:
    sid = _subject(store)
    _grant(store, sid)
    report = _import(store, _write(tmp_path, "ada@example.org\n"), dry_run=True)
    assert report.withdrawn == 1 and report.dry_run
    assert _state(store, sid).granted


def test_a_bad_time_anywhere_changes_nothing(store: Path, tmp_path: Path) -> None:
    sid = _subject(store)
    _grant(store, sid, at="2026-01-01")
    path = _write(tmp_path, "email,unsub_time\nada@example.org,2026-10-01\nx@example.org,03/10/2026\n")
    with pytest.raises(BadInput, match="line 3"):
        _import(store, path)
    future = _write(tmp_path, "email,unsub_time\nada@example.org,2027-01-01\n", "future.csv")
    with pytest.raises(BadInput, match="line 2.*future"):
        _import(store, future)
    assert _state(store, sid).granted


def test_import_of_a_missing_file_or_bad_purpose(store: Path, tmp_path: Path) -> None:
    with pytest.raises(BadInput, match="no file"):
        _import(store, tmp_path / "missing.csv")
    with pytest.raises(BadInput, match="contract"):
        _import(store, _write(tmp_path, "a@example.org\n"), purpose="care")
    with pytest.raises(BadInput, match="channel"):
        _import(store, _write(tmp_path, "a@example.org\n"), via="fax")


def test_import_reads_a_cp1252_spreadsheet_export(store: Path, tmp_path: Path) -> None:
    _grant(store, _subject(store))
    path = tmp_path / "excel.csv"
    path.write_bytes("Email;Name\r\nada@example.org;Zo\xeb\r\n".encode("cp1252"))
    assert _import(store, path).withdrawn == 1
