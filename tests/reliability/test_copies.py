"""Issue 13, point 7: copies of personal data (backups, stores kept aside by a restore, rejects
files, temporaries left by killed runs) have a retention, are listed by `pigment copies list` and
`pigment check`, and go with `pigment copies prune --apply`; temporaries go on the next run of the
command that made them."""

from __future__ import annotations

import json
import os
import time
from datetime import timedelta
from pathlib import Path

import pytest
from conftest import FIXED_NOW, edited_policy

from pigment_cli import clock
from pigment_cli.errors import ExitCode


def _later(monkeypatch: pytest.MonkeyPatch, days: int) -> None:
    monkeypatch.setattr(clock, "system_now", lambda: FIXED_NOW + timedelta(days=days))


def _old(path: Path, seconds: float = 7200) -> None:
    stale = time.time() - seconds
    os.utime(path, (stale, stale), follow_symlinks=False)


def test_backups_and_kept_stores_are_listed_and_pruned_after_their_retention(
        cli, store, tmp_path, monkeypatch) -> None:
    """Before the fix nothing listed them and nothing ever removed them."""
    cli.ok("subject", "add", "--name", "Copied Person", "--email", "copied@example.org")
    folder = tmp_path / "backups"
    folder.mkdir()
    backup = Path(cli.ok("backup", str(folder)).stdout.strip())
    cli.ok("restore", str(backup), "--replace")
    kept = next(tmp_path.glob("pigment.db.replaced-*"))
    listed = cli.json("copies", "list")
    assert {(c["kind"], c["path"]) for c in listed} == {("backup", str(backup)),
                                                        ("replaced store", str(kept))}
    assert all(c["age_days"] == 0 and not c["expired"] for c in listed)
    assert all(c["expires_on"] == "2026-12-30" for c in listed)  # 35 days by default
    assert cli.json("copies", "prune")["removed"] == []
    health = cli.json("check")
    assert {c["path"] for c in health["copies"]} == {str(backup), str(kept)}
    _later(monkeypatch, 36)
    assert all(c["expired"] and c["age_days"] == 36 for c in cli.json("copies", "list"))
    result = cli("check", "--json")
    assert result.exit_code == ExitCode.CHECK_FAILED
    finding = next(f for f in json.loads(result.stdout)["findings"] if f["check"] == "copies")
    assert "2 copies" in finding["problem"] and "pigment copies prune --apply" in finding["fix"]
    preview = cli.ok("copies", "prune")
    assert "add --apply" in preview.stderr and backup.exists() and kept.exists()
    pruned = cli.json("copies", "prune", "--apply")
    assert sorted(pruned["removed"]) == sorted([str(backup), str(kept)])
    assert not backup.exists() and not kept.exists()
    assert cli.json("copies", "list") == []
    assert "copies prune" in {e["command"] for e in cli.json("audit", "log")}
    cli.ok("check")


def test_the_retention_of_copies_is_a_policy_key(cli, store, tmp_path, monkeypatch) -> None:
    cli.ok("policy", "apply", str(edited_policy(tmp_path, "[controller]",
                                                '[copies]\nkeep = "90d"\n\n[controller]')))
    backup = Path(cli.ok("backup", str(tmp_path / "b.db")).stdout.strip())
    _later(monkeypatch, 36)
    assert [c["expired"] for c in cli.json("copies", "list")] == [False]
    assert cli.json("copies", "prune", "--apply")["removed"] == []
    assert backup.exists()
    bad = edited_policy(tmp_path, "[controller]", '[copies]\nkeep = "soon"\n\n[controller]')
    result = cli("policy", "check", str(bad))
    assert result.exit_code == ExitCode.CHECK_FAILED and "copies.keep" in result.stderr


def test_a_backup_deleted_by_hand_is_forgotten(cli, store, tmp_path) -> None:
    backup = Path(cli.ok("backup", str(tmp_path / "b.db")).stdout.strip())
    backup.unlink()
    assert cli.json("copies", "list") == []
    assert cli.json("copies", "prune", "--apply")["removed"] == []


def test_temporaries_left_by_killed_runs_are_reported_and_cleared_by_the_next_run(
        cli, store, tmp_path) -> None:
    folder = tmp_path / "backups"
    folder.mkdir()
    cli.ok("backup", str(folder / "b0.db"))  # pigment now knows this directory
    partial = folder / ".b1.db.partial"
    partial.write_bytes(b"SQLite format 3\x00 half a backup")
    _old(partial)
    restoring = tmp_path / ".pigment.db.restoring"
    restoring.write_bytes(b"SQLite format 3\x00 half a restore")
    _old(restoring)
    temporary = tmp_path / ".pigment-abc123.tmp"
    temporary.write_text("line,problem,external_id\n2,bad,Rejected Person\n")
    _old(temporary)
    export = tmp_path / ".pigment-export-xyz"
    export.mkdir()
    _old(export)
    health = cli("check", "--json")
    assert health.exit_code == ExitCode.CHECK_FAILED
    found = {c["path"]: c for c in json.loads(health.stdout)["copies"]}
    assert {str(partial), str(restoring), str(temporary), str(export)} <= set(found)
    assert found[str(partial)]["kind"] == "temporary"
    cli.ok("backup", str(folder / "b2.db"))
    assert not partial.exists()
    items = tmp_path / "items.csv"
    items.write_text("external_id,category,source,purpose,processed_at\nnobody,contact,form,care,"
                     "2026-11-01\n")
    cli.ok("import", "items", str(items), "--skip-invalid")
    assert not temporary.exists()
    sid = cli.ok("subject", "add", "--name", "Exported").stdout.strip()
    cli.ok("sar", "export", sid, "--out", str(tmp_path / "package"))
    assert not export.exists()
    backup = Path(cli.ok("backup", str(tmp_path / "b3.db")).stdout.strip())
    cli.ok("restore", str(backup), "--replace")
    assert not restoring.exists()


def test_a_temporary_in_use_is_never_removed(tmp_path) -> None:
    from pigment_cli.files import private_temp, remove_leftovers

    fd, tmp = private_temp(tmp_path)  # held (and locked) by a run still writing it
    try:
        _old(tmp)
        assert remove_leftovers(tmp_path, ".pigment-*.tmp") == []
        assert tmp.exists()
    finally:
        os.close(fd)
    assert remove_leftovers(tmp_path, ".pigment-*.tmp") == [tmp]


def test_rejects_files_are_copies_with_a_retention(cli, store, tmp_path, monkeypatch) -> None:
    items = tmp_path / "items.csv"
    items.write_text("external_id,category,source,purpose,processed_at\nnobody,contact,form,care,"
                     "2026-11-01\n")
    cli.ok("import", "items", str(items), "--skip-invalid")
    rejects = tmp_path / "items.rejects.csv"
    assert [c["kind"] for c in cli.json("copies", "list")] == ["rejects file"]
    _later(monkeypatch, 40)
    assert cli.json("copies", "prune", "--apply")["removed"] == [str(rejects)]
    assert not rejects.exists()


def test_copies_errors(cli, store, db) -> None:
    assert cli("copies", "prune", "--bogus").exit_code == ExitCode.BAD_INPUT
    assert cli("copies", "list", "--db", str(db.parent / "none.db")).exit_code == ExitCode.STORE
