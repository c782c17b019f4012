"""Encrypted backups: the age format (age-encryption.org/v1), through `pyrage`, an optional extra
(`pip install 'pigment-cli[backup-encryption]'`, imported only here and only when asked for).
A backup is encrypted to public-key recipients, so cron never holds a secret; anyone with an
identity (the private key) can decrypt it, with pigment or with the standard `age` tool."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from pigment_cli.errors import BadInput
from pigment_cli.files import create_private, lock_in_use, private_temp

if TYPE_CHECKING:
    from pyrage import ssh, x25519

    Recipient = x25519.Recipient | ssh.Recipient
    Identity = x25519.Identity | ssh.Identity

AGE_HEADER = b"age-encryption.org/v1\n"
ARMORED_HEADER = b"-----BEGIN AGE ENCRYPTED FILE-----"
EXTRA = "pip install 'pigment-cli[backup-encryption]'"


def _need_pyrage() -> None:
    """pyrage is imported inside each function that uses it: an optional extra, needed (and its
    ~2 MB library loaded) only for encrypted backups."""
    try:
        import pyrage  # noqa: F401
    except ImportError:
        raise BadInput(f"encrypted backups need the 'backup-encryption' extra (pyrage): {EXTRA}") from None


def is_encrypted(path: Path) -> bool:
    """Whether `path` starts like an age file (binary or armored)."""
    try:
        with open(path, "rb") as handle:
            start = handle.read(len(ARMORED_HEADER))
    except OSError:
        return False
    return start.startswith(AGE_HEADER) or start.startswith(ARMORED_HEADER)


def _one_recipient(text: str) -> Recipient:
    _need_pyrage()
    import pyrage

    try:
        if text.startswith("age1"):
            return pyrage.x25519.Recipient.from_str(text)
        if text.startswith(("ssh-ed25519 ", "ssh-rsa ")):
            return pyrage.ssh.Recipient.from_str(text)
    except pyrage.RecipientError:
        pass
    raise ValueError(text)


def recipients(values: Sequence[str]) -> list[Recipient]:
    """Each `--encrypt-to` value: an age public key (age1...), an SSH public key, or a file of
    them, one a line (# comments and blank lines skipped, as `age -R` reads them)."""
    out: list[Recipient] = []
    for value in values:
        value = value.strip()
        try:
            if value.startswith(("age1", "ssh-")):
                out.append(_one_recipient(value))
                continue
            path = Path(value).expanduser()
            try:
                lines = path.read_text(encoding="utf-8").splitlines()
            except (OSError, UnicodeDecodeError):
                raise BadInput(f"--encrypt-to {value[:80]}: neither an age public key (age1...) "
                               "nor a readable file of them") from None
            found = [_one_recipient(line.strip()) for line in lines
                     if line.strip() and not line.lstrip().startswith("#")]
            if not found:
                raise BadInput(f"--encrypt-to {value[:80]}: the file holds no recipient")
            out += found
        except ValueError as exc:
            raise BadInput(f"--encrypt-to: {str(exc)[:24]}... is not a valid age recipient "
                           "(an age1... public key or an ssh-ed25519/ssh-rsa key)") from None
    if not out:
        raise BadInput("--encrypt-to needs at least one recipient")
    return out


def identities(path: Path) -> list[Identity]:
    """The identities (private keys) in an age identity file, as `age-keygen` writes it (or an
    unencrypted OpenSSH private key)."""
    _need_pyrage()
    import pyrage

    try:
        text = Path(path).expanduser().read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        raise BadInput(f"--identity {path}: cannot read it as an age identity file") from None
    found: list[Identity] = []
    try:
        if "-----BEGIN OPENSSH PRIVATE KEY-----" in text:
            found.append(pyrage.ssh.Identity.from_buffer(text.encode()))
        found += [pyrage.x25519.Identity.from_str(line.strip())
                  for line in text.splitlines() if line.strip().startswith("AGE-SECRET-KEY-")]
    except pyrage.IdentityError:
        found = []
    if not found:
        raise BadInput(f"--identity {path}: no age identity in it (a line AGE-SECRET-KEY-1...)")
    return found


def encrypt_to_new_file(plain: Path, dest: Path, to: Sequence[Recipient]) -> None:
    """Encrypt `plain` into the new file `dest` (0600; written under a temporary name, flushed,
    then renamed; never over an existing file)."""
    _need_pyrage()
    import pyrage

    tmp = dest.with_name(f".{dest.name}.partial")
    tmp.unlink(missing_ok=True)
    fd = create_private(tmp)
    held = lock_in_use(tmp)  # a temporary being written: no other run's clean-up removes it
    try:
        with open(plain, "rb") as source, os.fdopen(fd, "wb") as out:
            pyrage.encrypt_io(source, out, list(to))  # streams: ~12 MB of memory for any size
            out.flush()
            os.fsync(out.fileno())
        if dest.exists():
            raise BadInput(f"{dest} already exists; a backup never overwrites a file")
        os.replace(tmp, dest)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    finally:
        os.close(held)


def decrypt_to_temp(source: Path, directory: Path, keys: Sequence[Identity]) -> Path:
    """Decrypt `source` into a new private temporary file in `directory` (the caller removes it);
    nothing is left behind if decryption fails."""
    _need_pyrage()
    import pyrage

    fd, tmp = private_temp(directory, prefix=".pigment-restore-", suffix=".tmp")
    try:
        # Locked by the caller for as long as it is used (`lock_in_use`), so that no other run's
        # clean-up of killed runs' temporaries removes it.
        with open(source, "rb") as encrypted, os.fdopen(fd, "wb") as out:
            try:
                pyrage.decrypt_io(encrypted, out, list(keys))
            except pyrage.DecryptError as exc:
                raise BadInput(f"cannot decrypt {source} with the identity given ({_reason(exc)}): "
                               "it was encrypted to other recipients, or is damaged") from None
            out.flush()
            os.fsync(out.fileno())
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return tmp


def _reason(exc: Exception) -> str:
    return " ".join(str(exc).split())[:80] or "no key matched"
