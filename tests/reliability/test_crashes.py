"""SIGKILL at random points (20 per command, seeded): the store stays consistent, the audit chain
holds, every subject is wholly present or wholly erased, and re-running the command finishes the job."""

from __future__ import annotations

import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pigment_cli.store import audit

from .bigstore import build

KILL_POINTS = 20
ENV = {**os.environ, "PIGMENT_ACTOR": "crash-test"}


def _pigment(*args: str) -> list[str]:
    return [sys.executable, "-m", "pigment_cli", *args]


def _kill_at(command: list[str], delay: float) -> None:
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=ENV)
    time.sleep(delay)
    proc.send_signal(signal.SIGKILL)
    proc.wait()


def _consistent(db: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(db)
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
    assert audit.verify(conn).ok
    return conn


def _copy_store(base: Path, dest: Path) -> None:
    shutil.copyfile(base, dest)
    for suffix in ("-erasures.jsonl", "-audit.key", "-audit-anchor.jsonl"):  # the store's own files
        if Path(f"{base}{suffix}").exists():
            shutil.copyfile(f"{base}{suffix}", f"{dest}{suffix}")


def _delays(seed: str, low: float, high: float) -> list[float]:
    rng = random.Random(seed)
    return [rng.uniform(low, high) for _ in range(KILL_POINTS)]


# --- retention sweep --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sweep_base(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, set[str]]:
    base = tmp_path_factory.mktemp("sweep") / "base.db"
    due = set(build(base, 8000))
    return base, due


@pytest.mark.parametrize("point", range(KILL_POINTS))
def test_sweep_killed_anywhere(sweep_base, tmp_path: Path, point: int) -> None:
    base, due = sweep_base
    db = tmp_path / "p.db"
    _copy_store(base, db)
    command = _pigment("retention", "sweep", "--apply", "--as-of", "2026-11-25", "--db", str(db))
    _kill_at(command, _delays("sweep", 0.2, 1.6)[point])
    conn = _consistent(db)
    items = dict(conn.execute("SELECT subject_id, count(*) FROM items GROUP BY subject_id"))
    present = {r[0] for r in conn.execute("SELECT id FROM subjects")}
    tombstoned = {r[0] for r in conn.execute("SELECT subject_id FROM tombstones")}
    conn.close()
    assert not present & tombstoned and tombstoned <= due
    assert all(items.get(sid) == 3 for sid in present)  # wholly present ...
    assert not set(items) - present  # ... or wholly erased
    subprocess.run(command, check=True, capture_output=True, env=ENV)
    conn = _consistent(db)
    left = {r[0] for r in conn.execute("SELECT id FROM subjects")}
    conn.close()
    assert not left & due and len(left) == 8000 - len(due)


# --- erasure on request -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def erase_base(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    from pigment_cli.clock import system_now
    from pigment_cli.records.consents import grant
    from pigment_cli.records.items import add_item
    from pigment_cli.records.subjects import add_subject
    from pigment_cli.store.connection import init_store
    from pigment_cli.store.session import session

    base = tmp_path_factory.mktemp("erase") / "base.db"
    init_store(base).close()
    with session(base, now=system_now(), actor="setup") as s:
        subject = add_subject(s, name="Erase Me", email="erase.me@example.org")
        add_item(s, subject.id, category="medical_history", source="consultation",
                 purpose="medical_records", value="kept note")
        grant(s, subject.id, "satisfaction_survey", via="paper_form")  # the survey items need it
        for n in range(3000):
            add_item(s, subject.id, category="marketing", source="survey",
                     purpose="satisfaction_survey", value=f"answer {n}")
        grant(s, subject.id, "newsletter", via="web_form")
    return base, subject.id


@pytest.mark.parametrize("point", range(KILL_POINTS))
def test_erase_killed_anywhere(erase_base, tmp_path: Path, point: int) -> None:
    base, sid = erase_base
    db = tmp_path / "p.db"
    _copy_store(base, db)
    command = _pigment("erase", sid, "--apply", "--db", str(db))
    _kill_at(command, _delays("erase", 0.1, 1.0)[point])
    conn = _consistent(db)
    marketing = conn.execute("SELECT count(*) FROM items WHERE category = 'marketing'").fetchone()[0]
    withdrawn = conn.execute("SELECT count(*) FROM consent_events WHERE action = 'withdraw'").fetchone()[0]
    conn.close()
    assert (marketing, withdrawn) in ((3000, 0), (0, 2))  # all of it, or none of it
    subprocess.run(command, check=True, capture_output=True, env=ENV)
    conn = _consistent(db)
    assert conn.execute("SELECT count(*) FROM items WHERE category = 'marketing'").fetchone()[0] == 0
    assert conn.execute("SELECT count(*) FROM items WHERE category = 'medical_history'").fetchone()[0] == 1
    conn.close()


# --- bulk import ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def import_base(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, int]:
    folder = tmp_path_factory.mktemp("import")
    base = folder / "base.db"
    subprocess.run(_pigment("init", "--db", str(base)), check=True, capture_output=True, env=ENV)
    subjects = folder / "subjects.csv"
    subjects.write_text("external_id,name,email\n" + "".join(
        f"P{n},Import Person {n},p{n}@example.org\n" for n in range(2000)))
    subprocess.run(_pigment("import", "subjects", str(subjects), "--db", str(base)),
                   check=True, capture_output=True, env=ENV)
    rows = 30000
    items = folder / "items.csv"
    items.write_text("external_id,category,source,purpose,value,collected_at,processed_at\n" + "".join(
        f"P{n % 2000},contact,form,care,row {n},2025-01-0{1 + n % 9},2025-02-0{1 + n % 9}\n"
        for n in range(rows)))
    return base, items, rows


@pytest.mark.parametrize("point", range(KILL_POINTS))
def test_import_killed_anywhere(import_base, tmp_path: Path, point: int) -> None:
    base, items, rows = import_base
    db = tmp_path / "p.db"
    _copy_store(base, db)
    command = _pigment("import", "items", str(items), "--db", str(db))
    _kill_at(command, _delays("import", 0.2, 1.5)[point])
    conn = _consistent(db)
    count = conn.execute("SELECT count(*) FROM items").fetchone()[0]
    conn.close()
    assert count in (0, rows)  # never half an import
    if count == 0:
        subprocess.run(command, check=True, capture_output=True, env=ENV)
    conn = _consistent(db)
    assert conn.execute("SELECT count(*) FROM items").fetchone()[0] == rows
    conn.close()


# --- subject-access export --------------------------------------------------------------------


@pytest.fixture(scope="module")
def export_base(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    from pigment_cli.clock import system_now
    from pigment_cli.records.items import add_item
    from pigment_cli.records.subjects import add_subject
    from pigment_cli.store.connection import init_store
    from pigment_cli.store.session import session

    base = tmp_path_factory.mktemp("export") / "base.db"
    init_store(base).close()
    with session(base, now=system_now(), actor="setup") as s:
        subject = add_subject(s, name="Export Me", email="export.me@example.org")
        for n in range(1000):
            add_item(s, subject.id, category="communications", source="email", purpose="care",
                     value=f"message {n} " + "x" * 200)
    return base, subject.id


def _complete(out: Path) -> bool:
    import hashlib
    import json as json_module

    manifest = json_module.loads((out / "manifest.json").read_text())
    entries = manifest["files"]
    listed = entries if isinstance(entries, list) else [{"name": k, **v} for k, v in entries.items()]
    for entry in listed:
        body = (out / entry["name"]).read_bytes()
        assert hashlib.sha256(body).hexdigest() == entry["sha256"]
    return True


@pytest.mark.parametrize("point", range(KILL_POINTS))
def test_export_killed_anywhere(export_base, tmp_path: Path, point: int) -> None:
    base, sid = export_base
    db = tmp_path / "p.db"
    _copy_store(base, db)
    out = tmp_path / "package"
    command = _pigment("sar", "export", sid, "--out", str(out), "--db", str(db))
    _kill_at(command, _delays("export", 0.1, 1.2)[point])
    _consistent(db).close()
    if out.exists():  # the final name only ever appears complete
        assert _complete(out)
    else:
        subprocess.run(command, check=True, capture_output=True, env=ENV)
        assert _complete(out)


def test_sweep_of_tens_of_thousands_killed_mid_batch(tmp_path: Path) -> None:
    """The issue's own case: a store of 20,000 subjects, killed after the first batches commit."""
    db = tmp_path / "big.db"
    due = set(build(db, 20_000))
    command = _pigment("retention", "sweep", "--apply", "--as-of", "2026-11-25", "--db", str(db))
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=ENV)
    reader = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and proc.poll() is None:
        if reader.execute("SELECT count(*) FROM tombstones").fetchone()[0] >= 400:
            break
        time.sleep(0.01)
    reader.close()
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    conn = _consistent(db)
    tombstoned = {r[0] for r in conn.execute("SELECT subject_id FROM tombstones")}
    conn.close()
    assert 400 <= len(tombstoned) < len(due)  # killed mid-sweep
    subprocess.run(command, check=True, capture_output=True, env=ENV)
    conn = _consistent(db)
    assert conn.execute("SELECT count(*) FROM subjects").fetchone()[0] == 20_000 - len(due)
    conn.close()


# --- restore (issue 13, point 3) --------------------------------------------------------------


@pytest.fixture(scope="module")
def restore_base(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, set[str]]:
    """A store whose journal names thousands of erasures made after its backup was taken, and a
    subject added after the backup: a restore has real work to replay."""
    folder = tmp_path_factory.mktemp("restore")
    base = folder / "base.db"
    due = set(build(base, 8000))
    backup = folder / "b0.db"
    subprocess.run(_pigment("backup", str(backup), "--db", str(base)), check=True,
                   capture_output=True, env=ENV)
    subprocess.run(_pigment("retention", "sweep", "--apply", "--as-of", "2026-11-25", "--db",
                            str(base)), check=True, capture_output=True, env=ENV)
    subprocess.run(_pigment("subject", "add", "--name", "After Backup", "--db", str(base)),
                   check=True, capture_output=True, env=ENV)
    return base, backup, due


def _state(db: Path, due: set[str]) -> str:
    """"old" (the store as it was), "new" (the backup with every erasure replayed); anything else
    fails the test (the raw backup, with the erased back, most of all)."""
    conn = _consistent(db)
    present = {r[0] for r in conn.execute("SELECT id FROM subjects")}
    after = conn.execute("SELECT count(*) FROM subjects WHERE name = 'After Backup'").fetchone()[0]
    conn.close()
    assert not present & due, f"{len(present & due)} erased subjects are back"
    return "old" if after else "new"


@pytest.mark.parametrize("point", range(KILL_POINTS))
def test_restore_killed_anywhere(restore_base, tmp_path: Path, point: int) -> None:
    base, backup, due = restore_base
    db = tmp_path / "p.db"
    _copy_store(base, db)
    command = _pigment("restore", str(backup), "--replace", "--db", str(db))
    _kill_at(command, _delays("restore", 0.2, 1.2)[point])  # before, during, after the switch
    _state(db, due)  # the old store or the new one (about half of these points fall each way)
    again = subprocess.run(command, capture_output=True, text=True, env=ENV)
    assert again.returncode == 0, again.stderr
    assert _state(db, due) == "new"
    assert not list(tmp_path.glob(".p.db.restoring*"))  # the next restore cleared what was left
