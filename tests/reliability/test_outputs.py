"""Issue 13, point 6: `--out` and `backup DEST` never write over the store's own files or anything
that is not a regular file, and an unreadable journal line is never skipped silently."""

from __future__ import annotations

import hashlib
import json
import os
import stat
from pathlib import Path

import pytest
from conftest import Cli

from pigment_cli.errors import ExitCode


def _digest(path: Path) -> str | None:
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else None


def _writers(out: Path, sid: str) -> list[list[str]]:
    return [
        ["consent", "audience", "newsletter", "--out", str(out)],
        ["policy", "ropa", "--out", str(out)],
        ["policy", "export", "--out", str(out)],
        ["sar", "export", sid, "--out", str(out)],
        ["backup", str(out)],
    ]


@pytest.fixture
def busy_store(cli: Cli, store: Path) -> str:
    """A store with a journal, a sweep lock file and a WAL, as a working store has."""
    sid = cli.ok("subject", "add", "--name", "Out Test", "--email", "out@example.org").stdout.strip()
    cli.ok("consent", "grant", sid, "newsletter", "--via", "web_form")
    gone = cli.ok("subject", "add", "--name", "Gone").stdout.strip()
    cli.ok("erase", gone, "--apply")
    return sid


def test_no_out_writes_over_the_stores_own_files(cli, store, busy_store, tmp_path) -> None:
    """Before the fix `consent audience --out "$PIGMENT_DB"` replaced the store with a CSV and
    `policy ropa --out <store>-erasures.jsonl` wiped the journal."""
    from pigment_cli.store.own import own_files

    own = own_files(store)
    names = {p.name for p in own}
    assert {"pigment.db", "pigment.db-wal", "pigment.db-shm", "pigment.db-erasures.jsonl",
            "pigment.db-sweep.lock"} <= names
    for target in own:
        before, existed = _digest(target), target.exists()
        for args in _writers(target, busy_store):
            result = cli(*args)
            assert result.exit_code == ExitCode.BAD_INPUT, (args, result.stdout, result.stderr)
            assert len(result.stderr.strip().splitlines()) == 1, result.stderr
            assert "store's own" in result.stderr
            assert _digest(target) == before and target.exists() == existed, args
    cli.ok("audit", "verify")
    cli.ok("subject", "show", busy_store)


def test_no_out_follows_a_link_onto_the_store(cli, store, busy_store, tmp_path) -> None:
    link = tmp_path / "innocent.csv"
    link.symlink_to(store)
    hard = tmp_path / "hard.csv"
    os.link(store, hard)
    before = _digest(store)
    for target in (link, hard):
        result = cli("consent", "audience", "newsletter", "--out", str(target))
        assert result.exit_code == ExitCode.BAD_INPUT, result.stderr
    assert _digest(store) == before


def test_no_out_writes_over_a_device_a_fifo_a_directory_or_a_database(cli, store, busy_store,
                                                                       tmp_path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    folder = tmp_path / "folder"
    folder.mkdir()
    other_store = Path(cli.ok("backup", str(tmp_path / "old-backup.db")).stdout.strip())
    targets = [fifo, folder, other_store]
    if os.geteuid() == 0:  # as root, --out /dev/null once replaced the device with a file: a
        device = tmp_path / "null"  # copy of the device, so a failing test breaks nothing
        os.mknod(device, 0o600 | stat.S_IFCHR, os.makedev(1, 3))
        targets.append(device)
    for target in targets:
        before = _digest(target)
        for args in _writers(target, busy_store)[:3]:
            result = cli(*args)
            assert result.exit_code == ExitCode.BAD_INPUT, (args, result.stderr)
            assert len(result.stderr.strip().splitlines()) == 1
        assert _digest(target) == before
    assert fifo.is_fifo() and folder.is_dir()
    assert all(t.is_char_device() for t in targets[3:])


def test_a_torn_last_journal_line_is_skipped_but_a_bad_line_before_it_refuses(cli, store, tmp_path) -> None:
    """Before the fix the replay skipped every unreadable line, so a journal overwritten or
    edited in the middle silently resurrected the erased."""
    backup = Path(cli.ok("backup", str(tmp_path / "b.db")).stdout.strip())
    first = cli.ok("subject", "add", "--name", "First").stdout.strip()
    cli.ok("erase", first, "--apply")
    second = cli.ok("subject", "add", "--name", "Second").stdout.strip()
    cli.ok("erase", second, "--apply")
    journal = Path(f"{store}-erasures.jsonl")
    lines = journal.read_text().splitlines(keepends=True)
    journal.write_text("".join(lines) + '{"scope": "subj')  # a crash mid-append
    cli.ok("restore", str(backup), "--replace")
    assert cli("subject", "show", first).exit_code == ExitCode.BAD_INPUT
    damaged = list(lines)
    damaged[0] = "garbage that is not JSON\n"
    journal.write_text("".join(damaged))
    result = cli("restore", str(backup), "--replace")
    assert result.exit_code == ExitCode.STORE
    assert "line 1" in result.stderr and str(journal) in result.stderr
    json.loads(lines[-1])  # the line itself was fine
