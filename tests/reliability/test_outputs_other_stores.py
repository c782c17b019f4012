"""`--out` never overwrites an encrypted backup, nor another store's journal, key or anchor."""

from __future__ import annotations

from pathlib import Path

import pytest

from pigment_cli.errors import ExitCode


@pytest.mark.parametrize("name", ["other.db-erasures.jsonl", "other.db-audit.key",
                                  "other.db-audit-anchor.jsonl", "old.db.age"])
def test_out_refuses_another_stores_files_and_encrypted_backups(cli, store: Path, tmp_path: Path,
                                                                name: str) -> None:
    target = tmp_path / name
    body = b"age-encryption.org/v1\n-> X25519 abc\n" if name.endswith(".age") else b"{}\n"
    target.write_bytes(body)
    result = cli("consent", "audience", "newsletter", "--out", str(target))
    assert result.exit_code == ExitCode.BAD_INPUT
    assert target.read_bytes() == body
