"""Issue 13, points 1 to 3: a restore never touches data it was not asked to erase, never undoes
an act on a person's rights, checks its inputs before copying anything, and excludes every
writer. (The SIGKILL test of restore is in test_crashes.py.)"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from conftest import Cli

from pigment_cli.errors import ExitCode


def _backup(cli: Cli, path: Path) -> Path:
    return Path(cli.ok("backup", str(path)).stdout.strip())


def _journal(store: Path) -> list[dict]:
    lines = Path(f"{store}-erasures.jsonl").read_text().splitlines()
    return [json.loads(line) for line in lines if line.strip()]


# --- 1. journal entries name what they erase by ids never reused ---------------------------------


def test_a_restore_never_erases_a_new_item_that_got_an_erased_items_id(cli, store, tmp_path) -> None:
    """The issue's scenario, step by step: before the fix the second restore "re-erased 1 item",
    the medical record that had been given the erased CCTV clip's id."""
    subject = cli.ok("subject", "add", "--name", "Id Reuse").stdout.strip()
    cli.ok("item", "add", subject, "--category", "contact", "--source", "form", "--purpose", "care")
    b0 = _backup(cli, tmp_path / "b0.db")
    clip = cli.ok("item", "add", subject, "--category", "cctv", "--source", "cctv",
                  "--purpose", "security", "--processed", "2026-09-01").stdout.strip()
    cli.ok("retention", "sweep", "--apply")  # the 30-day CCTV rule: the journal names the clip
    assert [i["id"] for i in cli.json("item", "list", subject)] != [int(clip)]
    cli.ok("restore", str(b0), "--replace")
    medical = cli.ok("item", "add", subject, "--category", "medical_history", "--source",
                     "consultation", "--purpose", "medical_records", "--value", "IMPORTANT")
    b1 = _backup(cli, tmp_path / "b1.db")
    result = cli.json("restore", str(b1), "--replace")
    values = [i["value"] for i in cli.json("item", "list", subject)]
    assert "IMPORTANT" in values
    assert result["replayed_items"] == 0
    assert medical.stdout.strip() != clip  # ids are never issued twice, even across a restore


def test_replay_checks_the_fingerprint_even_when_the_id_comes_back(cli, store, tmp_path) -> None:
    """Even if an id were issued again (a store rebuilt by hand), replay erases only the item
    whose immutable facts match the journal's fingerprint."""
    import sqlite3

    subject = cli.ok("subject", "add", "--name", "Same Id").stdout.strip()
    b0 = _backup(cli, tmp_path / "b0.db")
    clip = cli.ok("item", "add", subject, "--category", "cctv", "--source", "cctv",
                  "--purpose", "security", "--processed", "2026-09-01").stdout.strip()
    cli.ok("retention", "sweep", "--apply")
    entry = next(e for e in _journal(store) if e["scope"] == "items")
    assert entry["items"] == [int(clip)] and len(entry["fingerprints"]) == 1
    cli.ok("restore", str(b0), "--replace")
    conn = sqlite3.connect(store)  # a CCTV clip forced onto the erased clip's id
    conn.execute("INSERT INTO items (id, subject_id, category, source, purpose, basis, value, "
                 "collected_at, processed_at, created_at) VALUES (?, ?, 'cctv', 'cctv', 'security', "
                 "'legitimate_interests', 'new clip', '2026-11-20T09:00:00', '2026-11-20T09:00:00', "
                 "'2026-11-20T09:00:00')", (int(clip), subject))
    conn.commit()
    conn.close()
    b1 = _backup(cli, tmp_path / "b1.db")
    cli.ok("restore", str(b1), "--replace")
    assert [i["value"] for i in cli.json("item", "list", subject)] == ["new clip"]


def test_a_subject_erased_after_the_backup_keeps_its_id_taken(cli, store, tmp_path) -> None:
    b0 = _backup(cli, tmp_path / "b0.db")
    gone = cli.ok("subject", "add", "--name", "Came And Went").stdout.strip()
    cli.ok("erase", gone, "--apply")
    cli.ok("restore", str(b0), "--replace")
    # Not in the backup, but tombstoned by the replay: the id is never given to someone else.
    result = cli("subject", "show", gone)
    assert result.exit_code == ExitCode.BAD_INPUT and "erased" in result.stderr


# --- 2. a restore never undoes an act on a person's rights ------------------------------------


def test_a_restore_never_puts_anyone_back_on_the_mailing_list(cli, store, tmp_path) -> None:
    people = {}
    for key in ("withdrew", "unsubscribed", "erased", "rectified", "stays"):
        people[key] = cli.ok("subject", "add", "--name", f"Person {key.title()}", "--email",
                             f"{key}@example.org", "--phone", "07700 900001").stdout.strip()
        cli.ok("consent", "grant", people[key], "newsletter", "--via", "web_form")
    cli.ok("item", "add", people["erased"], "--category", "medical_history", "--source",
           "consultation", "--purpose", "medical_records", "--value", "kept note")
    b0 = _backup(cli, tmp_path / "b0.db")
    cli.ok("consent", "withdraw", people["withdrew"], "newsletter", "--via", "email")
    unsubscribed = tmp_path / "unsub.csv"
    unsubscribed.write_text("Email Address\nunsubscribed@example.org\n")
    cli.ok("consent", "import-withdrawals", str(unsubscribed), "--purpose", "newsletter",
           "--via", "newsletter_link")
    cli.ok("erase", people["erased"], "--reason", "objection", "--apply")  # medical note kept
    cli.ok("subject", "update", people["rectified"], "--email", "new.address@example.org",
           "--phone", "07700 900999")
    result = cli("restore", str(b0), "--replace", "--json")
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    audience = {m["id"] for m in cli.json("consent", "audience", "newsletter")}
    assert audience == {people["rectified"], people["stays"]}
    for key in ("withdrew", "unsubscribed", "erased"):
        assert cli("consent", "check", people[key], "newsletter").exit_code == ExitCode.CHECK_FAILED
    # The erasure's withdrawal and suppression came back too: the email stays suppressed.
    from conftest import domain

    from pigment_cli.records.suppression import is_suppressed

    with domain(store) as s:
        assert is_suppressed(s.conn, "erased@example.org")
        assert not is_suppressed(s.conn, "withdrew@example.org")
    assert [i["value"] for i in cli.json("item", "list", people["erased"])] == ["kept note"]
    assert data["replayed_withdrawals"] >= 3 and data["replayed_suppressions"] >= 1
    # A rectification cannot be replayed (its new value is never journalled): it is listed.
    assert [(r["subject_id"], r["fields"]) for r in data["redo_rectifications"]] == [
        (people["rectified"], ["email", "phone"])]
    plain = cli("restore", str(b0), "--replace")
    assert f"redo these rectifications: {people['rectified']} (email, phone)" in plain.stderr
    # The journal and the audit trail hold ids, keys and times only.
    text = Path(f"{store}-erasures.jsonl").read_text()
    for value in ("example.org", "Person", "07700", "kept note", "unsub.csv"):
        assert value not in text
    cli.ok("audit", "verify")


def test_replaying_twice_changes_nothing_more(cli, store, tmp_path) -> None:
    sid = cli.ok("subject", "add", "--name", "Twice", "--email", "twice@example.org").stdout.strip()
    cli.ok("consent", "grant", sid, "newsletter", "--via", "web_form")
    b0 = _backup(cli, tmp_path / "b0.db")
    cli.ok("consent", "withdraw", sid, "newsletter", "--via", "email")
    first = cli.json("restore", str(b0), "--replace")
    b1 = _backup(cli, tmp_path / "b1.db")
    second = cli.json("restore", str(b1), "--replace")
    assert first["replayed_withdrawals"] == 1 and second["replayed_withdrawals"] == 0
    assert [e["action"] for e in cli.json("consent", "history", sid)] == ["grant", "withdraw"]


def test_a_consent_granted_again_before_the_backup_is_not_withdrawn_by_replay(cli, store, tmp_path) -> None:
    sid = cli.ok("subject", "add", "--name", "Changed Mind", "--email", "cm@example.org").stdout.strip()
    cli.ok("consent", "grant", sid, "newsletter", "--via", "web_form", "--at", "2026-11-01")
    cli.ok("consent", "withdraw", sid, "newsletter", "--via", "email", "--at", "2026-11-02")
    cli.ok("consent", "grant", sid, "newsletter", "--via", "paper_form", "--at", "2026-11-03")
    b0 = _backup(cli, tmp_path / "b0.db")
    cli.ok("restore", str(b0), "--replace")
    assert cli("consent", "check", sid, "newsletter").exit_code == 0


# --- 3. inputs checked first; writers and the restore exclude each other ---------------------


def _no_copies(folder: Path) -> None:
    left = [p.name for p in folder.iterdir() if ".replaced-" in p.name or ".restoring" in p.name]
    assert left == []


def test_restore_inputs_are_checked_before_anything_is_copied(cli, store, tmp_path, monkeypatch) -> None:
    sid = cli.ok("subject", "add", "--name", "Relative").stdout.strip()
    _backup(cli, tmp_path / "b.db")
    monkeypatch.chdir(tmp_path)
    cli.ok("restore", "b.db", "--replace")  # a relative path is fine
    cli.ok("subject", "show", sid)
    for kept in tmp_path.glob("pigment.db.replaced-*"):
        kept.unlink()
    cases = [
        (["restore", "missing.db", "--replace"], ExitCode.BAD_INPUT, "no backup at"),
        (["restore", str(tmp_path / "b.db"), "--db", str(tmp_path / "nowhere" / "p.db")],
         ExitCode.BAD_INPUT, "no directory"),
        (["restore", str(tmp_path), "--replace"], ExitCode.BAD_INPUT, "is a directory"),
        (["restore", str(store), "--replace"], ExitCode.BAD_INPUT, "is the store itself"),
    ]
    notes = tmp_path / "notes.txt"
    notes.write_text("hello")
    cases.append((["restore", str(notes), "--replace"], ExitCode.STORE, "not a SQLite database"))
    for args, code, words in cases:
        result = cli(*args)
        assert result.exit_code == code, (args, result.stderr)
        assert words in result.stderr and len(result.stderr.strip().splitlines()) == 1
        assert "Traceback" not in result.stderr
        _no_copies(tmp_path)


def test_restore_waits_for_a_writer_and_a_writer_waits_for_a_restore(cli, store, tmp_path, monkeypatch) -> None:
    from pigment_cli.store import lock

    monkeypatch.setattr(lock, "ACCESS_WAIT_SECONDS", 0.3)
    backup = _backup(cli, tmp_path / "b.db")
    with lock.AccessLock(store, exclusive=False):  # a writer at work
        result = cli("restore", str(backup), "--replace")
        assert result.exit_code == ExitCode.STORE and "busy" in result.stderr
        _no_copies(tmp_path)
    with lock.AccessLock(store, exclusive=True):  # a restore at work
        result = cli("subject", "add", "--name", "Late")
        assert result.exit_code == ExitCode.STORE and "busy" in result.stderr
        assert cli("status").exit_code == ExitCode.STORE
    with lock.StoreLock(store):  # a sweep at work: a restore fails at once
        started = time.monotonic()
        assert cli("restore", str(backup), "--replace").exit_code == ExitCode.STORE
        assert time.monotonic() - started < 0.3
    cli.ok("restore", str(backup), "--replace")


def test_an_import_racing_a_restore_never_reports_lost_work(tmp_path: Path) -> None:
    """Before the fix the import printed "N added", exit 0, and none of its rows survived
    anywhere: it committed to the store file the restore had just replaced."""
    env = {**os.environ, "PIGMENT_ACTOR": "race", "PIGMENT_DB": str(tmp_path / "p.db")}

    def pigment(*args: str) -> list[str]:
        return [sys.executable, "-m", "pigment_cli", *args]

    subprocess.run(pigment("init"), check=True, capture_output=True, env=env)
    subjects = tmp_path / "subjects.csv"
    subjects.write_text("external_id,name\n" + "".join(f"P{n},Race {n}\n" for n in range(500)))
    subprocess.run(pigment("import", "subjects", str(subjects)), check=True, capture_output=True,
                   env=env)
    backup = tmp_path / "b.db"
    subprocess.run(pigment("backup", str(backup)), check=True, capture_output=True, env=env)
    rows = 150_000
    items = tmp_path / "items.csv"
    items.write_text("external_id,category,source,purpose,value,processed_at\n" + "".join(
        f"P{n % 500},contact,form,care,racing row {n},2026-11-0{1 + n % 9}\n" for n in range(rows)))
    importer = subprocess.Popen(pigment("import", "items", str(items)), stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, env=env)
    time.sleep(0.8)  # the import is under way
    restore = subprocess.run(pigment("restore", str(backup), "--replace"), capture_output=True,
                             text=True, env=env)
    _, import_err = importer.communicate(timeout=120)
    assert "Traceback" not in import_err + restore.stderr
    assert importer.returncode in (0, ExitCode.STORE), import_err
    assert restore.returncode in (0, ExitCode.STORE), restore.stderr
    if importer.returncode == 0:  # success means its rows are in the store or the kept copy
        import sqlite3

        places = [tmp_path / "p.db", *tmp_path.glob("p.db.replaced-*")]
        found = 0
        for place in places:
            conn = sqlite3.connect(place)
            found = max(found, conn.execute("SELECT count(*) FROM items").fetchone()[0])
            conn.close()
        assert found == rows, (importer.returncode, restore.returncode, found)
