"""The exit codes of pigment and the typed errors that carry them.

Domain code raises these; `pigment_cli.cli.main` turns them into one stderr line and an exit code.
Messages name ids, keys and file paths chosen by the user, never a subject's personal data.
"""

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    CHECK_FAILED = 1  # a check answered "no": consent not granted, overdue requests, chain broken
    BAD_INPUT = 2  # bad usage or bad input
    REFUSED = 3  # refused by policy
    STORE = 4  # store missing, locked, newer schema, corrupt
    INTERNAL = 70  # a bug: nothing was changed


class PigmentError(Exception):
    exit_code: ExitCode = ExitCode.INTERNAL

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class BadInput(PigmentError):
    exit_code = ExitCode.BAD_INPUT


class NotFound(BadInput):
    """An id that names nothing in the store (unknown subject, item, request...)."""


class Refused(PigmentError):
    exit_code = ExitCode.REFUSED


class StoreError(PigmentError):
    exit_code = ExitCode.STORE


class CheckFailed(PigmentError):
    exit_code = ExitCode.CHECK_FAILED


class NeedsConfirmation(Refused):
    """An action that looks like a duplicate of something already recorded: refused (exit 3)
    unless confirmed. `question` is what a terminal asks (ids only, never a personal value);
    the message, for a script, names `--yes`."""

    def __init__(self, message: str, question: str) -> None:
        super().__init__(message)
        self.question = question
