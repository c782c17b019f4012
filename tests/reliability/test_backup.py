"""Backups that never resurrect the erased, and the health check."""

from __future__ import annotations

import sqlite3
import stat
import threading
from pathlib import Path

from pigment_cli.errors import ExitCode


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_backup_then_restore_replays_erasures(cli, store: Path, tmp_path: Path) -> None:
    gone = cli.ok("subject", "add", "--name", "Erased After Backup", "--email", "gone@example.org").stdout.strip()
    cli.ok("consent", "grant", gone, "satisfaction_survey", "--via", "web_form")
    cli.ok("item", "add", gone, "--category", "marketing", "--source", "survey",
           "--purpose", "satisfaction_survey", "--value", "survey answer")
    stays = cli.ok("subject", "add", "--name", "Stays").stdout.strip()
    cctv = cli.ok("item", "add", stays, "--category", "cctv", "--source", "cctv",
                  "--purpose", "security", "--processed", "2026-10-01").stdout.strip()
    backups = tmp_path / "backups"
    backups.mkdir()
    written = Path(cli.ok("backup", str(backups)).stdout.strip())
    assert written.parent == backups and _mode(written) == 0o600
    cli.ok("erase", gone, "--apply")
    cli.ok("retention", "sweep", "--apply")  # erases the CCTV item (30-day rule)
    result = cli("restore", str(written))
    assert result.exit_code == ExitCode.BAD_INPUT and "--replace" in result.stderr
    cli.ok("restore", str(written), "--replace")
    assert cli("subject", "show", gone).exit_code == ExitCode.BAD_INPUT  # still erased
    assert [i["id"] for i in cli.json("item", "list", stays)] == []  # the CCTV item too
    assert int(cctv) > 0
    cli.ok("audit", "verify")
    raw = store.read_bytes()
    assert b"Erased After Backup" not in raw and b"survey answer" not in raw
    kept = list(tmp_path.glob("pigment.db.replaced-*"))
    assert len(kept) == 1 and _mode(kept[0]) == 0o600


def test_restore_into_a_lost_store(cli, store: Path, tmp_path: Path) -> None:
    sid = cli.ok("subject", "add", "--name", "Kept").stdout.strip()
    backup = Path(cli.ok("backup", str(tmp_path / "b.db")).stdout.strip())
    store.unlink()
    Path(f"{store}-wal").unlink(missing_ok=True)
    Path(f"{store}-shm").unlink(missing_ok=True)
    cli.ok("restore", str(backup))
    cli.ok("subject", "show", sid)
    assert _mode(store) == 0o600


def test_backup_errors(cli, store: Path, tmp_path: Path) -> None:
    target = tmp_path / "b.db"
    cli.ok("backup", str(target))
    assert cli("backup", str(target)).exit_code == ExitCode.BAD_INPUT  # never overwrites
    assert cli("backup", str(tmp_path / "nowhere" / "b.db")).exit_code == ExitCode.BAD_INPUT
    # A folder that does not exist yet (cron's first night): never a file named like it.
    result = cli("backup", f"{tmp_path / 'backups'}/")
    assert result.exit_code == ExitCode.BAD_INPUT and "mkdir" in result.stderr
    assert not (tmp_path / "backups").exists()
    (tmp_path / "backups").mkdir()
    written = Path(cli.ok("backup", f"{tmp_path / 'backups'}/").stdout.strip())
    assert written.parent == tmp_path / "backups"
    not_a_store = tmp_path / "notes.txt"
    not_a_store.write_text("hello")
    assert cli("restore", str(not_a_store), "--replace").exit_code == ExitCode.STORE
    assert cli("restore", str(tmp_path / "missing.db"), "--replace").exit_code == ExitCode.BAD_INPUT


def test_backup_is_consistent_while_another_process_writes(cli, store: Path, tmp_path: Path) -> None:
    from pigment_cli.clock import system_now
    from pigment_cli.records.subjects import add_subject
    from pigment_cli.store.session import session

    stop = threading.Event()

    def writer() -> None:
        while not stop.is_set():
            with session(store, now=system_now(), actor="writer") as s:
                add_subject(s, name="Concurrent")

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        copies = [Path(cli.ok("backup", str(tmp_path / f"b{n}.db")).stdout.strip()) for n in range(3)]
    finally:
        stop.set()
        thread.join()
    for copy in copies:
        conn = sqlite3.connect(copy)
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        conn.close()


def test_check_passes_on_a_healthy_store(cli, store: Path) -> None:
    result = cli.ok("check")
    assert "all checks passed" in result.stderr
    assert cli.json("check")["ok"] is True


def test_check_lists_findings_and_exits_1(cli, store: Path) -> None:
    sid = cli.ok("subject", "add", "--name", "Old").stdout.strip()
    conn = sqlite3.connect(store)
    conn.execute("UPDATE subjects SET last_processed_at = '2015-01-01' WHERE id = ?", (sid,))
    conn.execute("DROP TRIGGER audit_no_update")
    conn.execute("UPDATE audit SET actor = 'mallory' WHERE seq = 1")
    conn.commit()
    conn.close()
    store.chmod(0o644)
    result = cli("check")
    assert result.exit_code == ExitCode.CHECK_FAILED
    data = cli("check", "--json")
    assert data.exit_code == ExitCode.CHECK_FAILED
    import json

    checks = {f["check"] for f in json.loads(data.stdout)["findings"]}
    assert {"audit chain", "permissions", "retention"} <= checks


def test_restore_never_writes_to_the_backup_and_never_touches_anyone_else(cli, store, tmp_path) -> None:
    import hashlib

    alice = cli.ok("subject", "add", "--name", "Alice").stdout.strip()
    cli.ok("item", "add", alice, "--category", "cctv", "--source", "cctv", "--purpose", "security",
           "--processed", "2026-10-01")
    cli.ok("retention", "sweep", "--apply")  # erases Alice's CCTV clip (the journal names its id)
    bob = cli.ok("subject", "add", "--name", "Bob").stdout.strip()
    cli.ok("item", "add", bob, "--category", "medical_history", "--source", "consultation",
           "--purpose", "medical_records", "--value", "eczema")
    backup = Path(cli.ok("backup", str(tmp_path / "b.db")).stdout.strip())
    before = hashlib.sha256(backup.read_bytes()).hexdigest()
    backup.chmod(0o400)
    cli.ok("restore", str(backup), "--replace")
    assert hashlib.sha256(backup.read_bytes()).hexdigest() == before
    assert [i["value"] for i in cli.json("item", "list", bob)] == ["eczema"]  # ids never reused


def test_two_restores_in_one_second_keep_both_replaced_stores(cli, store, tmp_path) -> None:
    cli.ok("subject", "add", "--name", "Precious")
    backup = Path(cli.ok("backup", str(tmp_path / "b.db")).stdout.strip())
    cli.ok("restore", str(backup), "--replace")
    cli.ok("restore", str(backup), "--replace")
    assert len(list(tmp_path.glob("pigment.db.replaced-*"))) == 2
