"""Bulk import of a practice system's exports: subjects, items and consent events from CSV or JSON
Lines, matched to subjects by the practice system's own id (`external_id`).

One file is one transaction. Rows are validated as the file streams and written in batches
(`executemany`); if any row is bad the whole import rolls back and the report names each bad row's
line, column and reason (never its value). With `skip_invalid` the good rows are kept and the bad
ones go to a rejects CSV beside the input. No more than one batch of rows is ever held in memory.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import secrets
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from operator import itemgetter
from pathlib import Path
from typing import IO, Any

from pigment_cli.errors import BadInput
from pigment_cli.files import safe_cell
from pigment_cli.policy import CONSENT_CHANNELS, WRITTEN_CHANNELS
from pigment_cli.records.ids import ID_ALPHABET
from pigment_cli.records.suppression import is_suppressed
from pigment_cli.records.validate import (
    FieldError,
    check_item,
    check_when,
    clean_text,
    subject_field,
)
from pigment_cli.store.session import Session

COLUMNS: dict[str, tuple[str, ...]] = {
    "subjects": ("external_id", "name", "title", "dob", "email", "phone", "address",
                 "processed_at"),
    "items": ("external_id", "category", "source", "purpose", "basis", "value", "collected_at",
              "processed_at"),
    "consents": ("external_id", "purpose", "action", "channel", "at", "evidence", "notice"),
}
REQUIRED: dict[str, tuple[str, ...]] = {
    "subjects": ("external_id", "name"),
    "items": ("external_id", "category", "source", "purpose"),
    "consents": ("external_id", "purpose", "action", "channel", "at"),
}
KINDS = tuple(COLUMNS)
SHOWN_PROBLEMS = 50  # bad rows listed in a report; the rest are counted
BATCH_ROWS = 2000
BULK_CACHE_KIB = 49152  # page cache for the import (48 MiB): index upkeep mostly in memory, peak RSS < 150 MB
LOOKUP_CACHE = 50_000  # external ids remembered at once (bounded: memory stays flat)
MAX_SHORT_TEXT = 200  # consent evidence and notice references, as `pigment consent grant`
_FORMULA_ESCAPED = ("'=", "'+", "'-", "'@", "'\t", "'\r")
_ROW = "(row)"


@dataclass(frozen=True)
class Problem:
    """One bad row: where it is and why, never what it holds."""

    line: int
    column: str
    reason: str

    def __str__(self) -> str:
        if self.column == _ROW:
            return f"line {self.line}: {self.reason}"
        return f"line {self.line}, column {self.column}: {self.reason}"


class ImportRejected(BadInput):
    """The file had bad rows and nothing was imported. `problems` holds the first ones."""

    def __init__(self, path: Path, problems: list[Problem], bad_rows: int) -> None:
        rows = "row" if bad_rows == 1 else "rows"
        super().__init__(
            f"{path}: {bad_rows} bad {rows}; nothing was imported (fix them, or import the good "
            "rows and set the bad ones aside with --skip-invalid)"
        )
        self.problems = problems
        self.bad_rows = bad_rows


@dataclass
class ImportSummary:
    kind: str
    file: str
    format: str
    rows: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0
    suppressed: int = 0
    rejects_file: str | None = None
    ignored_columns: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def line(self) -> str:
        """The one-line summary printed at the end of an import."""
        new = {"subjects": "new", "items": "added", "consents": "recorded"}[self.kind]
        same = {"subjects": "unchanged", "items": "already held", "consents": "already held"}
        updated = {"subjects": "updated", "items": "processed again"}.get(self.kind)
        parts = [f"{self.inserted} {new}"]
        if updated:
            parts.append(f"{self.updated} {updated}")
        parts.append(f"{self.unchanged} {same[self.kind]}")
        if self.rejected:
            parts.append(f"{self.rejected} rejected (see {self.rejects_file})")
        return f"imported {self.kind} from {self.file}: {self.rows} rows, " + ", ".join(parts)


def rejects_path(path: Path) -> Path:
    """Where --skip-invalid puts the bad rows: beside the input, `<stem>.rejects.csv`."""
    return path.with_name(f"{path.stem or path.name}.rejects.csv")


def parse_mapping(pairs: list[str] | None, kind: str) -> dict[str, str]:
    """`--map SRC=DEST` pairs as {normalised source header: canonical column}."""
    mapping: dict[str, str] = {}
    for pair in pairs or []:
        src, sep, dest = pair.partition("=")
        if not sep or not src.strip() or not dest.strip():
            raise BadInput(f"--map {pair!r}: use SRC=DEST, e.g. --map 'Patient ID=external_id'")
        target = normalise_header(dest)
        if target not in COLUMNS[kind]:
            raise BadInput(f"--map {pair!r}: {dest.strip()!r} is not a column of {kind}; the "
                           f"columns are: {', '.join(COLUMNS[kind])}")
        mapping[normalise_header(src)] = target
    return mapping


def normalise_header(name: str) -> str:
    """Header names match ignoring case and surrounding space; inner spaces and hyphens are `_`."""
    return re.sub(r"[\s\-]+", "_", name.strip().lower())


# --- reading ----------------------------------------------------------------------------------


class _Source:
    """A CSV or JSON Lines file, streamed. `rows()` yields (line, cells) with cells in the kind's
    column order (None when absent or blank), or (line, Problem) for a row that cannot be read."""

    def __init__(self, path: Path, kind: str, mapping: dict[str, str]) -> None:
        self.path, self.kind, self.mapping = path, kind, mapping
        self.columns = COLUMNS[kind]
        self.ignored: set[str] = set()
        try:
            self.size = path.stat().st_size
            self._raw = open(path, "rb")  # noqa: SIM115 - closed by close()
        except FileNotFoundError:
            raise BadInput(f"no file at {path}") from None
        except IsADirectoryError:
            raise BadInput(f"{path} is a directory, not a file") from None
        except OSError as exc:
            raise BadInput(f"cannot read {path}: {exc.strerror}") from None
        head = self._raw.read(65536)
        self._raw.seek(0)
        text_head = head.removeprefix(b"\xef\xbb\xbf").lstrip()
        if not text_head:
            self.close()
            raise BadInput(f"{path} is empty")
        if text_head[:1] == b"[":
            self.close()
            raise BadInput(f"{path} holds a JSON array; give JSON Lines (one object per line)")
        by_name = path.suffix.lower() in (".jsonl", ".ndjson")
        self.format = "jsonl" if by_name or text_head[:1] == b"{" else "csv"
        self.text: IO[str] = io.TextIOWrapper(self._raw, encoding="utf-8-sig", newline="")
        self.present: set[str] = set()
        if self.format == "csv":
            first = head.removeprefix(b"\xef\xbb\xbf").split(b"\n", 1)[0].decode("utf-8", "replace")
            self.delimiter = max((",", ";", "\t"), key=first.count)
            self._reader = csv.reader(self.text, delimiter=self.delimiter)
            self._header()

    def close(self) -> None:
        self._raw.close()

    def position(self) -> int:
        return self._raw.tell()

    def _header(self) -> None:
        try:
            header = next(self._reader)
        except StopIteration:
            raise BadInput(f"{self.path} is empty") from None
        except UnicodeDecodeError:
            raise BadInput(f"{self.path}: not UTF-8 text; save the file as UTF-8 (CSV UTF-8) "
                           "and import it again") from None
        except csv.Error as exc:
            raise BadInput(f"{self.path}: line 1: not readable as CSV ({exc})") from None
        names = [normalise_header(h) for h in header]
        seen = set(names)
        for src in self.mapping:
            if src not in seen:
                raise BadInput(f"--map: {self.path} has no column {src!r}")
        positions: dict[str, int] = {}
        for index, name in enumerate(names):
            target = self.mapping.get(name, name)
            if not name:
                continue
            if target not in self.columns:
                self.ignored.add(header[index].strip())
                continue
            if target in positions:
                raise BadInput(f"{self.path}: two columns give {target!r}; keep one, or rename "
                               "one with --map SRC=DEST")
            positions[target] = index
        missing = [c for c in REQUIRED[self.kind] if c not in positions]
        if missing:
            raise BadInput(
                f"{self.path}: no {', '.join(repr(c) for c in missing)} column (the {self.kind} "
                f"columns are: {', '.join(self.columns)}); rename a column with --map SRC=DEST"
            )
        self.present = set(positions)
        self.absent = [i for i, c in enumerate(self.columns) if c not in positions]
        self.width = len(header)
        # Absent columns read the blank cell appended to every row.
        self._get = itemgetter(*(positions.get(c, self.width) for c in self.columns))

    def rows(self) -> Iterator[tuple[int, list[str | None] | Problem]]:
        return self._csv_rows() if self.format == "csv" else self._jsonl_rows()

    def _csv_rows(self) -> Iterator[tuple[int, list[str | None] | Problem]]:
        reader, get, width, absent = self._reader, self._get, self.width, self.absent
        previous = reader.line_num
        try:
            for cells in reader:
                line = previous + 1
                previous = reader.line_num
                if len(cells) != width:
                    if not any(c.strip() for c in cells):
                        continue  # a blank line
                    if len(cells) < width or any(c.strip() for c in cells[width:]):
                        yield line, Problem(line, _ROW, f"has {len(cells)} cells but the header "
                                            f"has {width} (a stray delimiter or line break?)")
                        continue
                    del cells[width:]
                cells.append("")
                values: list[str | None] = list(map(str.strip, get(cells)))
                if "'" in "".join(cells):
                    values = [_unescaped(v) for v in values]
                for index in absent:
                    values[index] = None
                yield line, values
        except UnicodeDecodeError:
            raise BadInput(f"{self.path}: near line {previous + 1}: not UTF-8 text; save the "
                           "file as UTF-8 (CSV UTF-8) and import it again") from None
        except csv.Error as exc:
            raise BadInput(f"{self.path}: line {reader.line_num}: not readable as CSV "
                           f"({exc})") from None

    def _jsonl_rows(self) -> Iterator[tuple[int, list[str | None] | Problem]]:
        slots: dict[str, int] = {}
        columns = self.columns
        line = 0
        try:
            for line, raw in enumerate(self.text, start=1):  # noqa: B007 - used after the loop
                if not raw.strip():
                    continue
                try:
                    record = json.loads(raw)
                except ValueError:
                    yield line, Problem(line, _ROW, "is not valid JSON")
                    continue
                if not isinstance(record, dict):
                    yield line, Problem(line, _ROW, "is not a JSON object")
                    continue
                values: list[str | None] = [None] * len(columns)
                problem = None
                for key, value in record.items():
                    slot = slots.get(key)
                    if slot is None:
                        name = normalise_header(str(key))
                        target = self.mapping.get(name, name)
                        slot = slots[key] = columns.index(target) if target in columns else -1
                        if slot < 0:
                            self.ignored.add(str(key))
                        else:
                            self.present.add(target)
                    if slot < 0:
                        continue
                    if value is None:
                        values[slot] = ""  # null clears, as a blank CSV cell does
                    elif isinstance(value, str):
                        values[slot] = value.strip()
                    elif isinstance(value, int | float) and not isinstance(value, bool):
                        values[slot] = str(value)
                    else:
                        problem = Problem(line, columns[slot], "must be text, a number or null")
                        break
                yield line, problem or values
        except UnicodeDecodeError:
            raise BadInput(f"{self.path}: near line {line + 1}: not UTF-8 text; save the file as "
                           "UTF-8 and import it again") from None


def _unescaped(value: str | None) -> str | None:
    """A formula-safe cell (as written to a rejects file or by `sar export`) read back as text."""
    if value is not None and value.startswith(_FORMULA_ESCAPED):
        return value[1:]
    return value


# --- the rejects file -------------------------------------------------------------------------


class _Rejects:
    """Bad rows streamed to a private temporary file beside the input, renamed into place at the
    end: `line`, `problem`, then the row's cells, every cell formula-safe."""

    def __init__(self, path: Path, columns: tuple[str, ...]) -> None:
        self.target = rejects_path(path)
        self.columns = columns
        self.count = 0
        self._tmp: str | None = None
        self._handle: IO[str] | None = None
        self._writer: Any = None

    def add(self, problem: Problem, values: list[str | None] | None) -> None:
        if self._writer is None:
            try:
                fd, self._tmp = tempfile.mkstemp(prefix=".pigment-", suffix=".tmp",
                                                 dir=self.target.parent)
            except OSError as exc:
                raise BadInput(f"cannot write {self.target}: {exc.strerror}") from None
            os.fchmod(fd, 0o600)
            self._handle = os.fdopen(fd, "w", encoding="utf-8", newline="")
            self._writer = csv.writer(self._handle, lineterminator="\r\n")
            self._writer.writerow(["line", "problem", *self.columns])
        cells = values if values is not None else [None] * len(self.columns)
        reason = problem.reason if problem.column == _ROW else f"{problem.column}: {problem.reason}"
        self._writer.writerow([problem.line, safe_cell(reason), *(safe_cell(v) for v in cells)])
        self.count += 1

    def commit(self) -> str | None:
        if self._handle is None or self._tmp is None:
            return None
        self._handle.flush()
        os.fsync(self._handle.fileno())
        self._handle.close()
        os.replace(self._tmp, self.target)
        self._tmp = None
        return str(self.target)

    def discard(self) -> None:
        if self._handle is not None:
            self._handle.close()
        if self._tmp is not None:
            Path(self._tmp).unlink(missing_ok=True)


# --- the writers: one per kind ----------------------------------------------------------------


class _Writer:
    """Checks one row at a time (raising FieldError) and writes accepted rows in batches."""

    def __init__(self, s: Session, summary: ImportSummary, present: set[str]) -> None:
        self.s, self.conn, self.summary, self.present = s, s.conn, summary, present
        self.today = s.today.isoformat()
        self.stamp = s.stamp
        self._ids: dict[str, Any] = {}

    def subject_of(self, external_id: str | None) -> Any:
        """The subject row for a practice-system id (cached, bounded), or FieldError."""
        if not external_id:
            raise FieldError("", "external_id", "is empty")
        found = self._ids.get(external_id)
        if found is None:
            found = self.lookup(external_id)
            if found is None:
                raise FieldError("", "external_id",
                                 "no subject has this external id (import subjects first)")
            if len(self._ids) >= LOOKUP_CACHE:
                self._ids.clear()
            self._ids[external_id] = found
        return found

    def lookup(self, external_id: str) -> Any:
        row = self.conn.execute(
            "SELECT id FROM subjects WHERE external_id = ?", (external_id,)
        ).fetchone()
        return row[0] if row else None

    def add(self, values: list[str | None]) -> None:
        raise NotImplementedError

    def flush(self) -> None:
        raise NotImplementedError


class _SubjectWriter(_Writer):
    """New external ids become new subjects; known ones are updated where a present column
    differs (a blank cell clears the field; an absent column leaves it alone)."""

    FIELDS = ("name", "title", "dob", "email", "phone", "address")
    SLOTS = tuple(COLUMNS["subjects"].index(f) for f in FIELDS)

    def __init__(self, s: Session, summary: ImportSummary, present: set[str]) -> None:
        super().__init__(s, summary, present)
        self.pending: list[tuple[Any, ...]] = []
        self.pending_ext: set[str] = set()
        self.pending_ids: set[str] = set()

    def add(self, values: list[str | None]) -> None:
        today = self.s.today
        external_id = clean_text(values[0], "external_id", column="external_id")
        if not external_id:
            raise FieldError("", "external_id", "is empty")
        fields = {k: subject_field(k, values[i], today)
                  for k, i in zip(self.FIELDS, self.SLOTS, strict=True) if values[i] is not None}
        if not fields.get("name"):
            raise FieldError("", "name", "is empty")
        processed = values[7] and check_when(values[7], "processed_at", "processed_at")
        if processed and processed[:10] > self.today:
            raise FieldError("", "processed_at", "is in the future")
        if external_id in self.pending_ext:
            self.flush()  # the same id twice in one batch: the second row updates the first
        current = self.conn.execute(
            "SELECT id, name, title, dob, email, phone, address FROM subjects WHERE external_id = ?",
            (external_id,),
        ).fetchone()
        if current is None:
            self._insert(external_id, fields, processed or self.stamp)
            return
        changed = [k for k, v in fields.items() if current[k] != v]
        if changed:
            sets = ", ".join(f"{k} = ?" for k in changed)
            self.conn.execute(
                f"UPDATE subjects SET {sets}, updated_at = ?, "
                "last_processed_at = max(last_processed_at, ?) WHERE id = ?",
                (*(fields[k] for k in changed), self.stamp, max(processed or "", self.stamp),
                 current["id"]),
            )
            self.summary.updated += 1
            return
        if processed:
            self.conn.execute(
                "UPDATE subjects SET last_processed_at = max(last_processed_at, ?) WHERE id = ?",
                (processed, current["id"]),
            )
        self.summary.unchanged += 1

    def _insert(self, external_id: str, fields: dict[str, str | None], processed: str) -> None:
        while True:
            # As inventory.new_id, from one draw of the OS's randomness (32 letters: no bias).
            subject_id = "S-" + "".join(ID_ALPHABET[b & 31] for b in secrets.token_bytes(5))
            if subject_id in self.pending_ids:
                continue
            taken = self.conn.execute(
                "SELECT 1 FROM subjects WHERE id = ? UNION ALL SELECT 1 FROM tombstones "
                "WHERE subject_id = ?", (subject_id, subject_id),
            ).fetchone()
            if not taken:
                break
        self.pending.append((
            subject_id, external_id, fields["name"], fields.get("title"), fields.get("dob"),
            fields.get("email"), fields.get("phone"), fields.get("address"), self.stamp,
            self.stamp, processed,
        ))
        self.pending_ext.add(external_id)
        self.pending_ids.add(subject_id)
        if len(self.pending) >= BATCH_ROWS:
            self.flush()

    def flush(self) -> None:
        if self.pending:
            self.conn.executemany(
                "INSERT INTO subjects (id, external_id, name, title, dob, email, phone, address, "
                "created_at, updated_at, last_processed_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                self.pending,
            )
            self.summary.inserted += len(self.pending)
            self.pending.clear()
            self.pending_ext.clear()
            self.pending_ids.clear()


_ITEM_INSERT = (
    "INSERT INTO items (subject_id, category, source, purpose, basis, value, collected_at, "
    "processed_at, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
# The same item (subject, category, source, purpose, value, collected_at) already held before this
# import began: processed again if the row says so later, never added twice.
_ITEM_SAME = (
    "subject_id = ?1 AND category = ?2 AND source = ?3 AND purpose = ?4 AND value IS ?6 "
    "AND collected_at = ?7 AND id <= ?10"
)
_ITEM_REPROCESS = f"UPDATE items SET processed_at = ?8 WHERE {_ITEM_SAME} AND processed_at < ?8"
_ITEM_INSERT_NEW = (
    "INSERT INTO items (subject_id, category, source, purpose, basis, value, collected_at, "
    "processed_at, created_at) SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9 "
    f"WHERE NOT EXISTS (SELECT 1 FROM items WHERE {_ITEM_SAME})"
)


class _ItemWriter(_Writer):
    """Items of subjects that had none before the import go in with a plain INSERT; items of
    subjects that had some are matched against those first (so re-importing adds nothing)."""

    def __init__(self, s: Session, summary: ImportSummary, present: set[str]) -> None:
        super().__init__(s, summary, present)
        self.policy = s.policy
        self.before = self.conn.execute("SELECT coalesce(max(id), 0) FROM items").fetchone()[0]
        self.fresh: list[tuple[Any, ...]] = []
        self.known: list[tuple[Any, ...]] = []
        self.latest: dict[str, str] = {}
        self.pending = 0

    def lookup(self, external_id: str) -> Any:
        if not self.before:  # the store held no items when the import began
            found = super().lookup(external_id)
            return None if found is None else (found, False)
        row = self.conn.execute(
            "SELECT id, EXISTS (SELECT 1 FROM items WHERE subject_id = subjects.id AND id <= ?) "
            "FROM subjects WHERE external_id = ?", (self.before, external_id),
        ).fetchone()
        return (row[0], bool(row[1])) if row else None

    def add(self, values: list[str | None]) -> None:
        # The hot path of a bulk import: kept lean (a million rows pass through here).
        _, category, source, purpose, basis, value, collected, processed = values
        subject_id, had_items = self._ids.get(values[0]) or self.subject_of(values[0])
        for column, text in (("category", category), ("source", source), ("purpose", purpose)):
            if not text:
                raise FieldError("", column, "is empty")
        if not (processed or collected):
            raise FieldError("", "processed_at", "is empty (give processed_at or collected_at)")
        row = check_item(self.policy, self.today, self.stamp, category=category, source=source,
                         purpose=purpose, basis=basis or None, value=value, collected=collected,
                         processed=processed or collected)
        if had_items:
            self.known.append((subject_id, *row, self.stamp, self.before))
        else:
            self.fresh.append((subject_id, *row, self.stamp))
        if row[6] > self.latest.get(subject_id, ""):
            self.latest[subject_id] = row[6]
        self.pending += 1
        if self.pending >= BATCH_ROWS:
            self.flush()

    def flush(self) -> None:
        conn = self.conn
        self.pending = 0
        if self.fresh:
            conn.executemany(_ITEM_INSERT, self.fresh)
            self.summary.inserted += len(self.fresh)
            self.fresh.clear()
        if self.known:
            reprocessed = conn.executemany(_ITEM_REPROCESS, self.known).rowcount
            added = conn.executemany(_ITEM_INSERT_NEW, self.known).rowcount
            self.summary.updated += reprocessed
            self.summary.inserted += added
            self.summary.unchanged += len(self.known) - added - reprocessed
            self.known.clear()
        if self.latest:
            # The retention clock: a subject's last processing is their latest item's.
            conn.executemany(
                "UPDATE subjects SET last_processed_at = ?1 WHERE id = ?2 "
                "AND last_processed_at < ?1",
                [(when, sid) for sid, when in self.latest.items()],
            )
            self.latest.clear()


class _ConsentWriter(_Writer):
    """Consent events appended to the ledger (history may come in any order: the current state
    is the latest event by time). An identical event (subject, purpose, action, channel, at)
    already in the ledger is not recorded twice."""

    def __init__(self, s: Session, summary: ImportSummary, present: set[str]) -> None:
        super().__init__(s, summary, present)
        self.consent_purposes = set(s.policy.consent_purposes())
        self.notice = s.policy.version
        self.pending: list[tuple[Any, ...]] = []
        self.latest: dict[str, str] = {}
        self.suppressed = self.conn.execute("SELECT EXISTS (SELECT 1 FROM suppression)").fetchone()[0]

    def lookup(self, external_id: str) -> Any:
        row = self.conn.execute(
            "SELECT id, email FROM subjects WHERE external_id = ?", (external_id,)
        ).fetchone()
        return (row[0], row[1]) if row else None

    def add(self, values: list[str | None]) -> None:
        subject_id, email = self.subject_of(values[0])
        purpose, action, channel = values[1], values[2], values[3]
        if purpose not in self.consent_purposes:
            raise FieldError("", "purpose", "is empty" if not purpose else
                             "is not a consent purpose of the policy (see: pigment policy show)")
        action = (action or "").lower()
        if action not in ("grant", "withdraw"):
            raise FieldError("", "action", "is empty" if not action else
                             "must be grant or withdraw")
        if channel not in CONSENT_CHANNELS:
            raise FieldError("", "channel", "is empty" if not channel else
                             "must be one of: " + ", ".join(CONSENT_CHANNELS))
        if not values[4]:
            raise FieldError("", "at", "is empty")
        at = check_when(values[4], "at", "at")
        if len(at) == 10:
            at += "T00:00:00"  # a bare date is midnight UTC, as in `pigment consent grant --at`
        if at > self.stamp:
            raise FieldError("", "at", "is in the future")
        evidence = clean_text(values[5], "evidence", column="evidence")
        notice = clean_text(values[6], "notice", column="notice")
        for column, text in (("evidence", evidence), ("notice", notice)):
            if text is not None and len(text) > MAX_SHORT_TEXT:
                raise FieldError("", column, f"is longer than {MAX_SHORT_TEXT} characters")
        if action == "grant" and self.suppressed and email:

            if is_suppressed(self.conn, email):
                self.summary.suppressed += 1
        self.pending.append((subject_id, purpose, action, channel, int(channel in WRITTEN_CHANNELS),
                             evidence, notice or self.notice, at, self.s.actor, self.stamp))
        if at > self.latest.get(subject_id, ""):
            self.latest[subject_id] = at
        if len(self.pending) >= BATCH_ROWS:
            self.flush()

    def flush(self) -> None:
        if self.pending:
            added = self.conn.executemany(
                "INSERT INTO consent_events (subject_id, purpose, action, channel, written, "
                "evidence, notice_version, at, recorded_by, recorded_at) "
                "SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10 WHERE NOT EXISTS ("
                "SELECT 1 FROM consent_events WHERE subject_id = ?1 AND purpose = ?2 "
                "AND at = ?8 AND action = ?3 AND channel = ?4)",
                self.pending,
            ).rowcount
            self.summary.inserted += added
            self.summary.unchanged += len(self.pending) - added
            self.pending.clear()
        if self.latest:
            self.conn.executemany(
                "UPDATE subjects SET last_processed_at = ?1 WHERE id = ?2 "
                "AND last_processed_at < ?1",
                [(when, sid) for sid, when in self.latest.items()],
            )
            self.latest.clear()


_WRITERS: dict[str, type[_Writer]] = {
    "subjects": _SubjectWriter, "items": _ItemWriter, "consents": _ConsentWriter,
}


# --- the import -------------------------------------------------------------------------------


def import_file(s: Session, kind: str, path: Path, *, mapping: dict[str, str] | None = None,
                skip_invalid: bool = False,
                progress: Callable[[int, int], None] | None = None) -> ImportSummary:
    """Import `path` (CSV or JSON Lines) as `kind` (subjects, items or consents) in the session's
    transaction. Raises ImportRejected, leaving the caller to roll back, if any row is bad and
    `skip_invalid` is off; with it, bad rows go to the rejects file. One audit entry, counts only.
    """
    if kind not in COLUMNS:
        raise BadInput(f"unknown import kind {kind!r}; use one of: {', '.join(KINDS)}")
    source = _Source(path, kind, mapping or {})
    summary = ImportSummary(kind=kind, file=str(path), format=source.format)
    rejects = _Rejects(path, COLUMNS[kind]) if skip_invalid else None
    problems: list[Problem] = []
    bad_rows = 0
    conn = s.conn
    cache_size = conn.execute("PRAGMA cache_size").fetchone()[0]
    conn.execute(f"PRAGMA cache_size = -{BULK_CACHE_KIB}")
    try:
        writer = _WRITERS[kind](s, summary, source.present)
        add = writer.add
        for line, values in source.rows():
            summary.rows += 1
            if type(values) is list:
                try:
                    add(values)
                except FieldError as exc:
                    # After a bad row (without skip_invalid) writing goes on only to check the
                    # rest of the file: the transaction is rolled back at the end.
                    bad_rows += 1
                    _note(Problem(line, exc.column, exc.reason), values, problems, rejects)
            else:
                bad_rows += 1
                _note(values, None, problems, rejects)
            if progress is not None and summary.rows % BATCH_ROWS == 0:
                progress(source.position(), source.size)
        writer.flush()
        if bad_rows and rejects is None:
            raise ImportRejected(path, problems, bad_rows)
        summary.ignored_columns = sorted(source.ignored)
        summary.rejected = bad_rows
        if rejects is not None:
            summary.rejects_file = rejects.commit()
        if progress is not None:
            progress(source.size, source.size)
        s.audit(f"import {kind}", None, format=source.format, rows=summary.rows,
                inserted=summary.inserted, updated=summary.updated, unchanged=summary.unchanged,
                rejected=summary.rejected)
    finally:
        if rejects is not None:
            rejects.discard()
        source.close()
        conn.execute(f"PRAGMA cache_size = {cache_size}")
    return summary


def _note(problem: Problem, cells: list[str | None] | None, problems: list[Problem],
          rejects: _Rejects | None) -> None:
    if len(problems) < SHOWN_PROBLEMS:
        problems.append(problem)
    if rejects is not None:
        rejects.add(problem, cells)
