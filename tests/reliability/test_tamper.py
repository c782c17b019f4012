"""Issue 13, points 4 and 5: edits made to the store file alone, with the sqlite3 shell, behind
pigment's back. The audit trail's tampering shows (`audit verify` and `check` exit 1), and a
policy edited in the store is never used (exit 4; a sweep erases nothing)."""

from __future__ import annotations

import hashlib
import json
import shutil
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from conftest import Cli

from pigment_cli.errors import ExitCode
from pigment_cli.store.audit import GENESIS, _digest

SQLITE3 = shutil.which("sqlite3")


def shell(db: Path, sql: str) -> None:
    """Run `sql` on the store as a person with the sqlite3 shell would (Python's sqlite3 module,
    the same library, where the shell is not installed)."""
    if SQLITE3:
        subprocess.run([SQLITE3, str(db)], input=sql, text=True, check=True, capture_output=True)
    else:
        conn = sqlite3.connect(db)
        conn.executescript(sql)
        conn.close()


def recompute_chain(db: Path, from_seq: int) -> None:
    """What a careful forger does after editing entry `from_seq`: recompute the hash of every
    entry from there on (the algorithm is no secret), and the head row in meta."""
    conn = sqlite3.connect(db)
    conn.execute("DROP TRIGGER IF EXISTS audit_no_update")
    prev = GENESIS if from_seq == 1 else conn.execute(
        "SELECT hash FROM audit WHERE seq = ?", (from_seq - 1,)).fetchone()[0]
    rows = conn.execute("SELECT seq, at, actor, command, subject_id, detail FROM audit "
                        "WHERE seq >= ? ORDER BY seq", (from_seq,)).fetchall()
    for seq, at, actor, command, subject_id, detail in rows:
        digest = _digest(prev, seq, at, actor, command, subject_id, detail)
        conn.execute("UPDATE audit SET prev_hash = ?, hash = ? WHERE seq = ?", (prev, digest, seq))
        prev = digest
    conn.execute("UPDATE meta SET value = ? WHERE key = 'audit_head'", (f"{rows[-1][0]}:{prev}",))
    # and put the trigger back, so nothing looks out of place
    conn.execute("CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit\n"
                 "        BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END")
    conn.commit()
    conn.close()


def restore_triggers(db: Path) -> None:
    """Put back the triggers exactly as pigment's schema wrote them (so only the chain is at issue)."""
    conn = sqlite3.connect(db)
    for name, event in (("audit_no_update", "UPDATE"), ("audit_no_delete", "DELETE")):
        conn.execute(f"DROP TRIGGER IF EXISTS {name}")
        conn.execute(f"CREATE TRIGGER {name} BEFORE {event} ON audit\n"
                     "        BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END")
    conn.commit()
    conn.close()


def both_fail(cli: Cli) -> tuple[str, str]:
    """`audit verify` and `check` both exit 1; returns their stderr."""
    verify = cli("audit", "verify")
    assert verify.exit_code == ExitCode.CHECK_FAILED, (verify.exit_code, verify.stderr)
    check = cli("check")
    assert check.exit_code == ExitCode.CHECK_FAILED, (check.exit_code, check.stderr)
    return verify.stderr, check.stdout + check.stderr


@pytest.fixture
def busy(cli: Cli, store: Path) -> str:
    """A store with a few commands' worth of audit entries; returns a subject id."""
    sid = cli.ok("subject", "add", "--name", "Tamper Target").stdout.strip()
    for _ in range(3):
        cli.ok("subject", "show", sid)
    cli.ok("audit", "verify")
    cli.ok("check")
    return sid


# --- 4. the audit trail --------------------------------------------------------------------


@pytest.mark.parametrize("trigger", ["audit_no_update", "audit_no_delete", "consent_events_append_only"])
def test_a_dropped_append_only_trigger_shows(cli, busy, store, trigger) -> None:
    shell(store, f"DROP TRIGGER {trigger};")
    verify, check = both_fail(cli)
    assert trigger in verify and trigger in check


def test_a_trigger_replaced_by_one_that_does_nothing_shows(cli, busy, store) -> None:
    shell(store, "DROP TRIGGER audit_no_delete; CREATE TRIGGER audit_no_delete BEFORE DELETE ON "
                 "audit WHEN 0 BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;")
    verify, _ = both_fail(cli)
    assert "audit_no_delete" in verify


def test_deleting_the_tail_and_rewriting_the_head_shows(cli, busy, store) -> None:
    """The issue's attack: drop the trigger, delete the last entries, make the head row agree."""
    conn = sqlite3.connect(store)
    last = conn.execute("SELECT max(seq) FROM audit").fetchone()[0]
    keep = conn.execute("SELECT hash FROM audit WHERE seq = ?", (last - 2,)).fetchone()[0]
    conn.close()
    shell(store, f"DROP TRIGGER audit_no_delete; DELETE FROM audit WHERE seq > {last - 2}; "
                 f"UPDATE meta SET value = '{last - 2}:{keep}' WHERE key = 'audit_head';")
    restore_triggers(store)
    verify, check = both_fail(cli)
    assert f"entry {last}" in verify and "anchored" in verify
    assert "audit chain" in check


def test_editing_an_entry_and_recomputing_every_hash_after_it_shows(cli, busy, store) -> None:
    shell(store, "DROP TRIGGER audit_no_update; "
                 "UPDATE audit SET actor = 'somebody-else' WHERE seq = 2;")
    recompute_chain(store, 2)
    # The forgery holds together inside the file: only the anchor outside it disagrees.
    from pigment_cli.store import audit

    conn = sqlite3.connect(store)
    assert audit.verify(conn).ok
    conn.close()
    verify, _ = both_fail(cli)
    assert "anchored" in verify


def test_entries_appended_outside_pigment_show(cli, busy, store) -> None:
    """Well-formed entries added at the end, hashes and head row and all: the anchor has nothing
    to say about entries after its last line, but the head no longer carries the key's seal."""
    conn = sqlite3.connect(store)
    seq, prev = conn.execute("SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1").fetchone()
    at, detail = "2026-11-25T10:31:00", "{}"
    digest = _digest(prev, seq + 1, at, "mallory", "subject list", None, detail)
    conn.execute("INSERT INTO audit VALUES (?, ?, 'mallory', 'subject list', NULL, ?, ?, ?)",
                 (seq + 1, at, detail, prev, digest))
    conn.execute("UPDATE meta SET value = ? WHERE key = 'audit_head'", (f"{seq + 1}:{digest}",))
    conn.commit()
    conn.close()
    verify, _ = both_fail(cli)
    assert "seal" in verify
    cli.ok("subject", "show", busy)  # the next command does not bless it
    both_fail(cli)


def test_a_missing_key_shows_and_nothing_is_added_unsealed(cli, busy, store, tmp_path, monkeypatch) -> None:
    from pigment_cli.store.seal import key_path

    kept = tmp_path / "elsewhere.key"
    key_path(store).rename(kept)  # deleted, or on a disk that is not mounted
    verify, _ = both_fail(cli)
    assert "audit key" in verify
    result = cli("subject", "show", busy)
    assert result.exit_code == ExitCode.STORE and "audit key" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert not key_path(store).exists()  # never re-created: that would bless what was done meanwhile
    monkeypatch.setenv("PIGMENT_AUDIT_KEY", str(kept))  # where it is now
    cli.ok("subject", "show", busy)
    cli.ok("audit", "verify")


def test_init_never_takes_over_another_stores_key_or_anchor(cli, tmp_path) -> None:
    db = tmp_path / "new.db"
    Path(f"{db}-audit.key").write_text("0" * 64 + "\n")
    result = cli("init", "--db", str(db))
    assert result.exit_code == ExitCode.STORE and "audit key" in result.stderr
    assert not db.exists() and not Path(f"{db}-audit-anchor.jsonl").exists()
    Path(f"{db}-audit.key").unlink()
    Path(f"{db}-audit-anchor.jsonl").write_text("")
    assert cli("init", "--db", str(db)).exit_code == ExitCode.STORE
    assert not db.exists() and not Path(f"{db}-audit.key").exists()
    Path(f"{db}-audit-anchor.jsonl").unlink()
    cli.ok("init", "--db", str(db))


def test_the_key_and_anchor_are_private_even_under_umask_0(cli, tmp_path) -> None:
    import os
    import stat

    from pigment_cli.store.anchor import anchor_path
    from pigment_cli.store.seal import key_path

    db = tmp_path / "open" / "p.db"
    old = os.umask(0)
    try:
        cli.ok("init", "--db", str(db))
    finally:
        os.umask(old)
    for path in (key_path(db), anchor_path(db)):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    assert len(key_path(db).read_text().strip()) == 64
    assert not [p.name for p in db.parent.iterdir() if p.name.endswith(".tmp")]


def test_rewriting_the_head_row_alone_shows(cli, busy, store) -> None:
    shell(store, "UPDATE meta SET value = '1:" + "0" * 64 + "' WHERE key = 'audit_head';")
    both_fail(cli)


def test_a_rewritten_chain_is_not_blessed_by_the_next_command(cli, busy, store) -> None:
    """Commands keep working on a tampered store, and what they anchor never hides the edit."""
    shell(store, "DROP TRIGGER audit_no_update; UPDATE audit SET command = 'x' WHERE seq = 2;")
    recompute_chain(store, 2)
    cli.ok("subject", "show", busy)
    cli.ok("subject", "show", busy)
    both_fail(cli)


def test_status_sees_a_cut_tail_from_the_anchors_last_line(cli, busy, store) -> None:
    cli.ok("subject", "show", busy)  # after the last full verification (status starts there)
    cli.ok("subject", "show", busy)
    conn = sqlite3.connect(store)
    last = conn.execute("SELECT max(seq) FROM audit").fetchone()[0]
    keep = conn.execute("SELECT hash FROM audit WHERE seq = ?", (last - 1,)).fetchone()[0]
    conn.close()
    shell(store, f"DROP TRIGGER audit_no_delete; DELETE FROM audit WHERE seq = {last}; "
                 f"UPDATE meta SET value = '{last - 1}:{keep}' WHERE key = 'audit_head';")
    restore_triggers(store)
    view = cli.json("status")["audit"]
    assert view["ok"] is False and "anchored" in view["reason"]


def test_a_deleted_anchor_shows(cli, busy, store) -> None:
    from pigment_cli.store.anchor import anchor_path

    anchor_path(store).unlink()
    verify, _ = both_fail(cli)
    assert "anchor" in verify
    cli.ok("subject", "show", busy)  # work goes on; the anchor is not silently re-created
    assert not anchor_path(store).exists()
    both_fail(cli)


def test_the_anchor_is_private_and_one_line_per_command(cli, busy, store) -> None:
    import stat

    from pigment_cli.store.anchor import anchor_path

    path = anchor_path(store)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    before = path.read_text().splitlines()
    cli.ok("subject", "show", busy)
    after = path.read_text().splitlines()
    assert after[:len(before)] == before and len(after) == len(before) + 1
    head = json.loads(after[-1])
    conn = sqlite3.connect(store)
    assert (head["seq"], head["hash"]) == tuple(conn.execute(
        "SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1").fetchone())
    conn.close()
    cli.ok("check")  # a read command: nothing appended
    assert path.read_text().splitlines() == after


def test_the_anchor_can_live_elsewhere(cli, store, tmp_path, monkeypatch) -> None:
    from pigment_cli.store.anchor import anchor_path

    elsewhere = tmp_path / "other-disk" / "anchor.jsonl"
    elsewhere.parent.mkdir()
    shutil.copyfile(anchor_path(store), elsewhere)
    anchor_path(store).unlink()
    monkeypatch.setenv("PIGMENT_AUDIT_ANCHOR", str(elsewhere))
    assert anchor_path(store) == elsewhere
    sid = cli.ok("subject", "add", "--name", "Elsewhere").stdout.strip()
    cli.ok("subject", "show", sid)
    cli.ok("audit", "verify")
    assert len(elsewhere.read_text().splitlines()) >= 3


def test_a_legitimate_restore_re_anchors_and_verifies(cli, busy, store, tmp_path) -> None:
    backup = Path(cli.ok("backup", str(tmp_path / "b.db")).stdout.strip())
    for _ in range(3):
        cli.ok("subject", "show", busy)  # anchored heads the backup does not have
    cli.ok("restore", str(backup), "--replace")
    cli.ok("audit", "verify")
    cli.ok("check")
    restores = [e for e in cli.json("audit", "log") if e["command"] == "restore"]
    assert restores and restores[-1]["detail"]["anchor"] == "re-anchored"
    cli.ok("subject", "show", busy)
    cli.ok("audit", "verify")
    # ... and tampering after the restore still shows
    shell(store, "DROP TRIGGER audit_no_update; UPDATE audit SET actor = 'x' WHERE seq = 3;")
    recompute_chain(store, 3)
    both_fail(cli)


def test_a_backup_whose_chain_was_rewritten_is_not_restored(cli, busy, store, tmp_path) -> None:
    backup = Path(cli.ok("backup", str(tmp_path / "b.db")).stdout.strip())
    backup.chmod(0o600)
    shell(backup, "DROP TRIGGER audit_no_update; UPDATE audit SET actor = 'x' WHERE seq = 2;")
    recompute_chain(backup, 2)
    before = store.read_bytes()
    result = cli("restore", str(backup), "--replace")
    assert result.exit_code == ExitCode.STORE, result.stderr
    assert "anchor" in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert store.read_bytes() == before


def test_a_restore_on_a_new_machine_without_the_key_starts_a_new_one(cli, busy, store, tmp_path) -> None:
    """The server is lost with its key and anchor; only a backup is left."""
    from pigment_cli.store.anchor import anchor_path
    from pigment_cli.store.seal import key_path

    backup = Path(cli.ok("backup", str(tmp_path / "b.db")).stdout.strip())
    old_key = key_path(store).read_text()
    for lost in (store, Path(f"{store}-wal"), Path(f"{store}-shm"), key_path(store), anchor_path(store)):
        lost.unlink(missing_ok=True)
    cli.ok("restore", str(backup))
    assert key_path(store).exists() and key_path(store).read_text() != old_key
    entry = [e for e in cli.json("audit", "log") if e["command"] == "restore"][-1]
    assert entry["detail"]["backup_audit"].startswith("not vouched for: no audit key")
    cli.ok("audit", "verify")
    cli.ok("check")
    cli.ok("subject", "show", busy)
    shell(store, "DROP TRIGGER audit_no_update; UPDATE audit SET actor = 'x' WHERE seq = 2;")
    recompute_chain(store, 2)
    both_fail(cli)


def test_restoring_an_older_history_after_a_restore_is_allowed(cli, busy, store, tmp_path) -> None:
    """Restore b0, then think better of it and restore b1 (taken later, before the first restore)."""
    b0 = Path(cli.ok("backup", str(tmp_path / "b0.db")).stdout.strip())
    cli.ok("subject", "show", busy)
    b1 = Path(cli.ok("backup", str(tmp_path / "b1.db")).stdout.strip())
    cli.ok("subject", "show", busy)
    cli.ok("restore", str(b0), "--replace")
    cli.ok("subject", "show", busy)
    cli.ok("restore", str(b1), "--replace")
    cli.ok("audit", "verify")
    cli.ok("check")


@pytest.mark.parametrize("made_before_keys", [False, True], ids=["sealed", "made-before-keys"])
def test_two_writers_never_move_the_anchor_backwards(cli, store, made_before_keys) -> None:
    """Two writers at once, on a sealed store, or on one from before keys that both start at once."""
    from pigment_cli.clock import system_now
    from pigment_cli.records.subjects import add_subject
    from pigment_cli.store.anchor import anchor_path
    from pigment_cli.store.seal import key_path
    from pigment_cli.store.session import session

    if made_before_keys:
        anchor_path(store).unlink()
        key_path(store).unlink()
        shell(store, "DELETE FROM meta WHERE key IN ('audit_seal', 'policy_seal');")

    errors: list[BaseException] = []

    def writer(tag: str) -> None:
        try:
            for n in range(40):
                with session(store, now=system_now(), actor=tag) as s:
                    add_subject(s, name=f"{tag} {n}")
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(t,)) for t in ("alpha", "beta")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    seqs = [json.loads(line)["seq"] for line in anchor_path(store).read_text().splitlines()]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    conn = sqlite3.connect(store)
    assert seqs[-1] == conn.execute("SELECT max(seq) FROM audit").fetchone()[0]
    conn.close()
    cli.ok("audit", "verify")


def test_a_crash_between_commit_and_anchor_is_no_false_alarm(cli, busy, store) -> None:
    """The anchor is written after the commit: a crash in between loses one anchor line (the
    next command's covers it), and never leaves an anchored head the chain lacks."""
    from pigment_cli.store import anchor

    lines = anchor.anchor_path(store).read_text().splitlines()
    anchor.anchor_path(store).write_text("\n".join(lines[:-1]) + "\n")  # the last line never made it
    cli.ok("audit", "verify")
    cli.ok("subject", "show", busy)
    cli.ok("audit", "verify")


def test_a_store_made_before_anchors_starts_one_on_its_next_write(cli, busy, store) -> None:
    from pigment_cli.store.anchor import anchor_path
    from pigment_cli.store.seal import key_path

    anchor_path(store).unlink()  # as an older pigment left it: no anchor, no key, no seals
    key_path(store).unlink()
    shell(store, "DELETE FROM meta WHERE key IN ('audit_seal', 'policy_seal');")
    result = cli("check", "--json")  # a read command: nothing to hold the chain to yet, no finding
    assert "audit chain" in json.loads(result.stdout)["passed"]
    assert not anchor_path(store).exists()
    cli.ok("subject", "show", busy)  # the first writing command starts both
    assert anchor_path(store).exists() and key_path(store).exists()
    cli.ok("audit", "verify")
    cli.ok("check")
    shell(store, "DROP TRIGGER audit_no_update; UPDATE audit SET actor = 'x' WHERE seq = 2;")
    recompute_chain(store, 2)
    both_fail(cli)


# --- 5. the policy in force --------------------------------------------------------------------


def _old_patient(cli: Cli) -> str:
    sid = cli.ok("subject", "add", "--name", "Recent Patient").stdout.strip()
    cli.ok("item", "add", sid, "--category", "medical_history", "--source", "consultation",
           "--purpose", "medical_records", "--value", "keep me", "--processed", "2026-06-01")
    return sid


@pytest.mark.parametrize("also", ["", "row-hash", "row-and-audit"])
def test_an_edited_stored_policy_is_never_used(cli, store, also) -> None:
    """The issue's attack: `default = "7y"` becomes "1d" in the stored policy. A sweep would
    erase most of the clinic; instead every command that needs the policy exits 4."""
    sid = _old_patient(cli)
    conn = sqlite3.connect(store)
    version, source = conn.execute(
        "SELECT version, source FROM policies ORDER BY version DESC LIMIT 1").fetchone()
    conn.close()
    edited = source.replace('default = "7y"', 'default = "1d"', 1)
    assert edited != source
    sql = f"UPDATE policies SET source = replace(source, 'default = \"7y\"', 'default = \"1d\"') WHERE version = {version};"
    new_hash = hashlib.sha256(edited.encode()).hexdigest()
    if also:
        sql += f"UPDATE policies SET sha256 = '{new_hash}' WHERE version = {version};"
    shell(store, sql)
    if also == "row-and-audit":  # rewrite the audit entry that put it in force, and the chain
        conn = sqlite3.connect(store)
        conn.execute("DROP TRIGGER audit_no_update")
        seq, detail = conn.execute("SELECT seq, detail FROM audit WHERE command IN "
                                   "('init', 'policy apply') ORDER BY seq DESC LIMIT 1").fetchone()
        forged = {**json.loads(detail), "sha256": new_hash}
        conn.execute("UPDATE audit SET detail = ? WHERE seq = ?",
                     (json.dumps(forged, sort_keys=True, separators=(",", ":")), seq))
        conn.commit()
        conn.close()
        recompute_chain(store, seq)
    for command in (["retention", "sweep", "--apply"], ["retention", "plan"], ["check"],
                    ["policy", "show"]):
        result = cli(*command)
        if also == "row-and-audit" and command == ["check"]:
            # the forged audit entry holds together per command; the anchor catches it in check
            assert result.exit_code in (ExitCode.STORE, ExitCode.CHECK_FAILED)
            continue
        assert result.exit_code == ExitCode.STORE, (command, result.exit_code, result.stderr)
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and f"store version {version}" in lines[0], lines
    if also == "row-and-audit":
        assert cli("audit", "verify").exit_code == ExitCode.CHECK_FAILED
    conn = sqlite3.connect(store)
    assert conn.execute("SELECT count(*) FROM items WHERE subject_id = ?", (sid,)).fetchone()[0] == 1
    assert conn.execute("SELECT count(*) FROM tombstones").fetchone()[0] == 0
    conn.close()


def test_an_applied_policy_is_checked_too_and_a_reviewed_one_can_replace_it(cli, store, tmp_path) -> None:
    from conftest import EXAMPLES

    cli.ok("policy", "apply", str(EXAMPLES / "policy.toml"))
    shell(store, "UPDATE policies SET source = replace(source, 'default = \"7y\"', "
                 "'default = \"1d\"') WHERE version = (SELECT max(version) FROM policies);")
    assert cli("retention", "sweep", "--apply").exit_code == ExitCode.STORE
    # the way out: put a reviewed file in force (recorded), or restore a backup
    reviewed = tmp_path / "reviewed.toml"
    reviewed.write_text((EXAMPLES / "policy.toml").read_text() + "\n# reviewed\n")
    cli.ok("policy", "apply", str(reviewed))
    cli.ok("retention", "sweep", "--apply")
    entry = cli.json("audit", "log", "--limit", "2")[0]
    assert entry["command"] == "policy apply" and entry["detail"]["replaced_failing_version"] == 2


def test_the_policy_check_is_cheap() -> None:
    """One SHA-256 of the policy text and one indexed audit lookup per command."""
    import timeit

    from pigment_cli.policy import default_source

    text = default_source().encode()
    per_hash = min(timeit.repeat(lambda: hashlib.sha256(text).hexdigest(), number=200, repeat=5)) / 200
    assert per_hash < 0.001, per_hash  # about 20 microseconds for ~10 kB


def test_a_subprocess_sees_the_same(tmp_path) -> None:
    """The whole story once through the real executable: init, tamper, exit codes."""
    db = tmp_path / "p.db"
    run = [sys.executable, "-m", "pigment_cli"]
    env_db = ["--db", str(db)]
    subprocess.run([*run, "init", *env_db], check=True, capture_output=True)
    shell(db, "DROP TRIGGER audit_no_delete;")
    verify = subprocess.run([*run, "audit", "verify", *env_db], capture_output=True, text=True)
    assert verify.returncode == ExitCode.CHECK_FAILED and "audit_no_delete" in verify.stderr
