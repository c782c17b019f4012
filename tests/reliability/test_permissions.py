"""Everything pigment writes is owner-only, even under a permissive umask."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest


@pytest.fixture
def open_umask():
    old = os.umask(0)
    yield
    os.umask(old)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_every_file_written_is_owner_only(cli, db: Path, tmp_path: Path, open_umask) -> None:
    from pigment_cli.store.connection import open_store

    cli.ok("init")
    reader = open_store(db)  # keeps the WAL and shared-memory files in place to inspect
    try:
        sid = cli.ok("subject", "add", "--name", "Perm Ission", "--email", "p@example.org").stdout.strip()
        cli.ok("consent", "grant", sid, "newsletter", "--via", "web_form")
        written = {
            "backup": Path(cli.ok("backup", str(tmp_path / "backup.db")).stdout.strip()),
            "audience": tmp_path / "audience.csv",
            "ropa": tmp_path / "ropa.html",
            "zip": tmp_path / "package.zip",
        }
        cli.ok("consent", "audience", "newsletter", "--out", str(written["audience"]))
        cli.ok("policy", "ropa", "--format", "html", "--out", str(written["ropa"]))
        cli.ok("sar", "export", sid, "--out", str(tmp_path / "package"))
        cli.ok("sar", "export", sid, "--out", str(written["zip"]), "--zip")
        bad = tmp_path / "items.csv"
        bad.write_text("external_id,category,source,purpose\nnobody,identity,form,care\n")
        cli.ok("import", "items", str(bad), "--skip-invalid")  # the one bad row goes to a rejects file
        cli.ok("erase", sid, "--apply")
        for suffix in ("-wal", "-shm", "-erasures.jsonl"):
            path = Path(f"{db}{suffix}")
            assert path.exists() and _mode(path) == 0o600, path.name
        assert _mode(db) == 0o600
        for name, path in written.items():
            assert _mode(path) == 0o600, name
        package = tmp_path / "package"
        assert _mode(package) == 0o700
        assert all(_mode(f) == 0o600 for f in package.iterdir())
        rejects = list(tmp_path.glob("*rejects*"))
        assert len(rejects) == 1 and _mode(rejects[0]) == 0o600
    finally:
        reader.close()
