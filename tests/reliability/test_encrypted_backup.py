"""Issue 13, point 8: a backup that is safe off-site. `backup --encrypt-to` writes the age format
to public-key recipients (cron never holds a secret); `restore --identity` decrypts it beside the
store and restores as usual; the standard `age` tool decrypts it too. And the record of
processing claims encrypted backups only when the store's backups are."""

from __future__ import annotations

import shutil
import stat
import subprocess
from pathlib import Path

import pytest
from conftest import Cli

from pigment_cli.errors import ExitCode

pyrage = pytest.importorskip("pyrage")
MARKER = "Zanzibar Quince-Marker"


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _key(directory: Path, name: str = "backup.key") -> tuple[Path, str]:
    """An identity file as `age-keygen -o` writes it; returns it and its public key."""
    identity = pyrage.x25519.Identity.generate()
    public = str(identity.to_public())
    path = directory / name
    path.write_text(f"# created: 2026-11-25T10:30:00Z\n# public key: {public}\n{identity}\n")
    path.chmod(0o600)
    return path, public


@pytest.fixture
def marked(cli: Cli, store: Path) -> str:
    sid = cli.ok("subject", "add", "--name", MARKER, "--email", "quince@example.org").stdout.strip()
    cli.ok("item", "add", sid, "--category", "medical_history", "--source", "consultation",
           "--purpose", "medical_records", "--value", "Quince marker diagnosis")
    return sid


def _leftovers(*folders: Path) -> list[str]:
    return [p.name for folder in folders for p in folder.iterdir()
            if p.name.startswith(".") and (p.name.endswith(".tmp") or p.name.endswith(".partial"))]


def test_round_trip(cli, marked, store, tmp_path) -> None:
    keys = tmp_path / "keys"
    keys.mkdir()
    identity, public = _key(keys)
    offsite = tmp_path / "offsite"
    offsite.mkdir()
    written = Path(cli.ok("backup", str(offsite), "--encrypt-to", public).stdout.strip())
    assert written.parent == offsite and written.name.endswith(".db.age")
    assert _mode(written) == 0o600
    raw = written.read_bytes()
    assert raw.startswith(b"age-encryption.org/v1\n")
    for plain in (MARKER.encode(), b"quince@example.org", b"Quince marker diagnosis",
                  b"SQLite format 3"):
        assert plain not in raw
    assert not _leftovers(offsite, store.parent)  # no plain copy left anywhere
    entry = cli.json("audit", "log", "--limit", "1")[0]
    assert entry["command"] == "backup" and entry["detail"] == {"encrypted": True, "recipients": 1}

    cli.ok("subject", "update", marked, "--name", "Changed After Backup")
    result = cli.json("restore", str(written), "--replace", "--identity", str(identity))
    assert result["restored_from"] == str(written)
    assert cli.json("subject", "show", marked)["subject"]["name"] == MARKER
    assert _mode(store) == 0o600
    assert not _leftovers(store.parent)  # the decrypted temporary is gone
    cli.ok("audit", "verify")
    cli.ok("check")


def test_a_file_of_recipients_and_two_keys(cli, marked, store, tmp_path) -> None:
    first, first_public = _key(tmp_path, "first.key")
    second, second_public = _key(tmp_path, "second.key")
    recipients = tmp_path / "recipients.txt"
    recipients.write_text(f"# the practice manager\n{first_public}\n\n# the off-site keyholder\n"
                          f"{second_public}\n")
    written = Path(cli.ok("backup", str(tmp_path / "b.db.age"), "--encrypt-to",
                          str(recipients)).stdout.strip())
    assert written == tmp_path / "b.db.age"
    cli.ok("restore", str(written), "--replace", "--identity", str(second))
    cli.ok("subject", "show", marked)


def test_wrong_identity_is_exit_2_with_one_line_and_leaves_nothing(cli, marked, store, tmp_path) -> None:
    _, public = _key(tmp_path, "right.key")
    wrong, _ = _key(tmp_path, "wrong.key")
    written = Path(cli.ok("backup", str(tmp_path / "b.db.age"), "--encrypt-to", public).stdout.strip())
    before = store.read_bytes()
    result = cli("restore", str(written), "--replace", "--identity", str(wrong))
    assert result.exit_code == ExitCode.BAD_INPUT
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "cannot decrypt" in lines[0] and "Traceback" not in result.stderr
    assert store.read_bytes() == before
    assert not _leftovers(store.parent, tmp_path)


@pytest.mark.parametrize(("args", "message"), [
    (["--encrypt-to", "age1notakey"], "not a valid age recipient"),
    (["--encrypt-to", "/nowhere/recipients.txt"], "neither an age public key"),
])
def test_bad_recipients_are_exit_2_before_any_copy(cli, store, tmp_path, args, message) -> None:
    result = cli("backup", str(tmp_path / "b.db.age"), *args)
    assert result.exit_code == ExitCode.BAD_INPUT and message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "b.db.age").exists() and not _leftovers(tmp_path, store.parent)


def test_an_empty_recipients_file_is_exit_2(cli, store, tmp_path) -> None:
    empty = tmp_path / "recipients.txt"
    empty.write_text("# nobody yet\n")
    result = cli("backup", str(tmp_path / "b.db.age"), "--encrypt-to", str(empty))
    assert result.exit_code == ExitCode.BAD_INPUT and "holds no recipient" in result.stderr


def test_restore_of_an_encrypted_backup_needs_its_identity(cli, store, tmp_path) -> None:
    identity, public = _key(tmp_path)
    written = Path(cli.ok("backup", str(tmp_path / "b.db.age"), "--encrypt-to", public).stdout.strip())
    result = cli("restore", str(written), "--replace")
    assert result.exit_code == ExitCode.BAD_INPUT and "--identity" in result.stderr
    plain = Path(cli.ok("backup", str(tmp_path / "plain.db")).stdout.strip())
    result = cli("restore", str(plain), "--replace", "--identity", str(identity))
    assert result.exit_code == ExitCode.BAD_INPUT and "not an encrypted backup" in result.stderr
    not_identity = tmp_path / "notes.txt"
    not_identity.write_text("hello\n")
    result = cli("restore", str(written), "--replace", "--identity", str(not_identity))
    assert result.exit_code == ExitCode.BAD_INPUT and "no age identity" in result.stderr


def test_without_pyrage_it_is_one_line_and_exit_2(cli, store, tmp_path, monkeypatch) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "pyrage", None)  # as if the extra were not installed
    result = cli("backup", str(tmp_path / "b.db.age"), "--encrypt-to", "age1" + "q" * 58)
    assert result.exit_code == ExitCode.BAD_INPUT
    assert "backup-encryption" in result.stderr and len(result.stderr.strip().splitlines()) == 1


@pytest.mark.skipif(shutil.which("age") is None, reason="the age command-line tool is not installed")
def test_the_standard_age_tool_decrypts_a_pigment_backup(cli, marked, store, tmp_path) -> None:
    identity, public = _key(tmp_path)
    written = Path(cli.ok("backup", str(tmp_path / "b.db.age"), "--encrypt-to", public).stdout.strip())
    out = tmp_path / "decrypted.db"
    subprocess.run(["age", "-d", "-i", str(identity), "-o", str(out), str(written)], check=True)
    import sqlite3

    conn = sqlite3.connect(out)
    assert conn.execute("SELECT name FROM subjects WHERE id = ?", (marked,)).fetchone()[0] == MARKER
    conn.close()


@pytest.mark.skipif(shutil.which("age-keygen") is None, reason="age-keygen is not installed")
def test_a_key_made_by_age_keygen_works(cli, marked, store, tmp_path) -> None:
    identity = tmp_path / "backup.key"
    subprocess.run(["age-keygen", "-o", str(identity)], check=True, capture_output=True)
    public = subprocess.run(["age-keygen", "-y", str(identity)], check=True, capture_output=True,
                            text=True).stdout.strip()
    written = Path(cli.ok("backup", str(tmp_path), "--encrypt-to", public).stdout.strip())
    cli.ok("restore", str(written), "--replace", "--identity", str(identity))
    cli.ok("subject", "show", marked)


# --- the record of processing says only what is true -----------------------------------------


def _measures(cli: Cli) -> str:
    return cli.ok("policy", "ropa", "--format", "md").stdout


def test_the_ropa_claims_encrypted_backups_only_when_they_are(cli, store, tmp_path) -> None:
    assert "ncrypted backups" not in _measures(cli)  # no backup yet, and the policy no longer says so
    cli.ok("backup", str(tmp_path / "plain.db"))
    assert "ncrypted" not in _measures(cli)
    _, public = _key(tmp_path)
    cli.ok("backup", str(tmp_path / "b.db.age"), "--encrypt-to", public)
    text = _measures(cli)
    assert "Backups encrypted with age" in text and "2026-11-25" in text
    cli.ok("backup", str(tmp_path / "plain2.db"))  # the latest is plain again
    assert "Backups encrypted with age" not in _measures(cli)
