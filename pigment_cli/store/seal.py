"""The audit key and the seals it makes: a secret kept outside the store (`<store>-audit.key`,
mode 0600, or `$PIGMENT_AUDIT_KEY`), with which every command that appends to the audit trail
seals the chain's head, and `init` / `policy apply` seal the policy they put in force (HMAC-SHA256,
kept in the store's `meta`). Someone who edits the store file without the key cannot make a seal
for an edited, appended or recomputed chain, nor for an edited policy.

A sealed store (one whose `meta` holds `audit_seal`) needs its key: a missing key is a finding,
never a reason to seal again. A store made before seals existed is sealed, with a new key, by
its first writing command (`anchor.start`)."""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import sqlite3
from pathlib import Path

from pigment_cli.errors import StoreError
from pigment_cli.files import private_temp

KEY_ENV = "PIGMENT_AUDIT_KEY"
HEAD_SEAL = "audit_seal"  # meta: HMAC of the chain's head, "seq:hash"
POLICY_SEAL = "policy_seal"  # meta: "version:HMAC" of the policy in force, "version:sha256"


def key_path(store_path: Path | str) -> Path:
    """Where the store's audit key is: $PIGMENT_AUDIT_KEY, else beside the store."""
    override = os.environ.get(KEY_ENV)
    return Path(override).expanduser().resolve() if override else Path(f"{store_path}-audit.key")


def load_key(store_path: Path | str) -> bytes | None:
    """The store's audit key, or None if there is none (a store from before seals, or a lost key)."""
    path = key_path(store_path)
    try:
        text = path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise StoreError(f"cannot read the audit key {path}: {getattr(exc, 'strerror', None) or exc}") from None
    try:
        key = bytes.fromhex(text)
    except ValueError:
        key = b""
    if len(key) != 32:
        raise StoreError(f"the audit key {path} is damaged (not 64 hexadecimal digits); "
                         "put back the copy you keep with your backups")
    return key


def create_key(store_path: Path | str) -> bytes:
    """Make a new key file (0600, flushed to disk), whole or not at all: written under a temporary
    name, then linked into place, which refuses an existing key (never replaced) and never shows a
    reader half a key."""
    path = key_path(store_path)
    key = secrets.token_bytes(32)
    try:
        fd, tmp = private_temp(path.parent, prefix=".pigment-key-", suffix=".tmp")
    except OSError as exc:
        raise StoreError(f"cannot create the audit key {path}: {exc.strerror}") from None
    try:
        try:
            os.write(fd, (key.hex() + "\n").encode())
            os.fsync(fd)
        finally:
            os.close(fd)
        os.link(tmp, path)
    except FileExistsError:
        raise StoreError(f"an audit key already exists at {path} (from an earlier store?); "
                         "move it aside first") from None
    except OSError as exc:
        raise StoreError(f"cannot create the audit key {path}: {exc.strerror}") from None
    finally:
        tmp.unlink(missing_ok=True)
    return key


def key_for_append(conn: sqlite3.Connection) -> bytes | None:
    """The key to seal a new head with. A sealed store whose key is missing refuses the append
    (StoreError, exit 4; the command changes nothing): entries added unsealed would make the chain
    look tampered with for ever once the key is back, and a key that is only somewhere else (an
    unmounted disk, $PIGMENT_AUDIT_KEY not set under cron) is better said at once."""
    store = store_path_of(conn)
    key = load_key(store)
    if key is None and is_sealed(conn):
        raise StoreError(f"the audit key {key_path(store)} is missing, and this store's audit trail "
                         "is sealed with it, so nothing was done; put the key back, or set "
                         f"{KEY_ENV} to where it is")
    return key


def store_path_of(conn: sqlite3.Connection) -> Path:
    return Path(conn.execute("PRAGMA database_list").fetchone()[2])


def _mac(key: bytes, kind: str, text: str) -> str:
    return hmac.new(key, f"pigment-{kind}\x1f{text}".encode(), hashlib.sha256).hexdigest()


def _meta(conn: sqlite3.Connection, key: str) -> str | None:
    row = conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
    return None if row is None else str(row[0])


def _put(conn: sqlite3.Connection, key: str, value: str) -> None:
    conn.execute("INSERT INTO meta (key, value) VALUES (?, ?) "
                 "ON CONFLICT (key) DO UPDATE SET value = excluded.value", (key, value))


def is_sealed(conn: sqlite3.Connection) -> bool:
    return _meta(conn, HEAD_SEAL) is not None


# --- the chain's head -------------------------------------------------------------------------


def seal_head(conn: sqlite3.Connection, key: bytes, head: str) -> None:
    """Seal the chain's head ("seq:hash"), in the transaction that appended it."""
    _put(conn, HEAD_SEAL, _mac(key, "audit-head", head))


def carries_seal(conn: sqlite3.Connection, key: bytes, head: str | None) -> bool:
    """Whether the chain's head `head` ("seq:hash", None for an empty chain) is the one sealed."""
    seal = _meta(conn, HEAD_SEAL)
    if head is None:
        return True  # a new store's first entry (nothing to vouch for before it)
    return seal is not None and hmac.compare_digest(seal, _mac(key, "audit-head", head))


def head_problem(conn: sqlite3.Connection, key: bytes | None, key_file: Path) -> str | None:
    """Why the chain's head is not vouched for by the key, or None if it is (or cannot be: a
    store from before seals, with no key)."""
    seal = _meta(conn, HEAD_SEAL)
    if key is None:
        if seal is None:
            return None
        return f"the audit key {key_file} is missing, so the chain cannot be vouched for"
    if seal is None:
        return "the chain's seal is missing from the store (removed outside pigment)"
    head = _meta(conn, "audit_head") or ""
    if not hmac.compare_digest(seal, _mac(key, "audit-head", head)):
        return ("the chain's head does not carry the audit key's seal "
                "(entries were edited, added or removed outside pigment)")
    return None


# --- the policy in force ----------------------------------------------------------------------


def seal_policy(conn: sqlite3.Connection, key: bytes, version: int, sha256: str) -> None:
    """Seal the policy put in force as store version `version` (in the transaction that stores it)."""
    _put(conn, POLICY_SEAL, f"{version}:{_mac(key, 'policy', f'{version}:{sha256}')}")


def policy_problem(conn: sqlite3.Connection, key: bytes | None, version: int,
                   sha256: str) -> str | None:
    """Why the policy row (`version`, `sha256`) is not the one pigment sealed, or None."""
    if key is None:
        return None  # no key: `check` reports the missing key; the row and audit checks still hold
    seal = _meta(conn, POLICY_SEAL)
    if seal is None:
        return "has lost its seal" if is_sealed(conn) else None
    sealed_version, _, mac = seal.partition(":")
    if sealed_version != str(version):
        return f"is not the one sealed (store version {sealed_version})"
    if not hmac.compare_digest(mac, _mac(key, "policy", f"{version}:{sha256}")):
        return "does not carry the audit key's seal"
    return None
