"""Reading an import file: CSV (BOM, `,`/`;`/tab, CRLF) or JSON Lines, streamed row by row into
the kind's column order, with `--map` renames; a row that cannot be read becomes a `Problem`."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from operator import itemgetter
from pathlib import Path
from typing import IO

from pigment_cli.errors import BadInput
from pigment_cli.files import unsafe_cell

COLUMNS: dict[str, tuple[str, ...]] = {
    "subjects": ("external_id", "name", "title", "dob", "email", "phone", "address",
                 "processed_at"),
    "items": ("external_id", "category", "source", "purpose", "basis", "value", "collected_at",
              "processed_at"),
    "consents": ("external_id", "purpose", "action", "channel", "at", "evidence", "notice",
                 "recipient", "categories"),
}
REQUIRED: dict[str, tuple[str, ...]] = {
    "subjects": ("external_id", "name"),
    "items": ("external_id", "category", "source", "purpose"),
    "consents": ("external_id", "purpose", "action", "channel", "at"),
}
KINDS = tuple(COLUMNS)
ROW = "(row)"
_DATA_LIKE = re.compile(r"@|[0-9]{3}")  # an email, a year, a phone number: not a header name


@dataclass(frozen=True)
class Problem:
    """One bad row: where it is and why, never what it holds."""

    line: int
    column: str
    reason: str

    def __str__(self) -> str:
        if self.column == ROW:
            return f"line {self.line}: {self.reason}"
        return f"line {self.line}, column {self.column}: {self.reason}"




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


class Source:
    """A CSV or JSON Lines file, streamed. `rows()` yields (line, cells) with cells in the kind's
    column order (None when absent or blank), or (line, Problem) for a row that cannot be read."""

    def __init__(self, path: Path, kind: str, mapping: dict[str, str]) -> None:
        self.path, self.kind, self.mapping = path, kind, mapping
        self.columns = COLUMNS[kind]
        self.ignored: set[str] = set()
        self.ignored_unnamed = 0  # ignored header cells that look like data (never echoed)
        self.raw_line: str | None = None  # a JSON Lines row as read (for the rejects file)
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
        # A first line holding an email, a date or a phone number is a data row, not a header:
        # none of its cells is ever echoed (they would be someone's personal data).
        data_like = any(_DATA_LIKE.search(cell) for cell in header)
        for src in self.mapping:
            if src not in seen:
                raise BadInput(f"--map: {self.path} has no column {src!r}")
        positions: dict[str, int] = {}
        for index, name in enumerate(names):
            target = self.mapping.get(name, name)
            if not name:
                continue
            if target not in self.columns:
                if data_like:
                    self.ignored_unnamed += 1
                else:
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
                        yield line, Problem(line, ROW, f"has {len(cells)} cells but the header "
                                            f"has {width} (a stray delimiter or line break?)")
                        continue
                    del cells[width:]
                cells.append("")
                values: list[str | None] = list(map(str.strip, get(cells)))
                if "'" in "".join(cells):
                    values = [unsafe_cell(v) for v in values]
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
                self.raw_line = raw.rstrip("\r\n")
                try:
                    record = json.loads(raw)
                except ValueError:
                    yield line, Problem(line, ROW, "is not valid JSON")
                    continue
                if not isinstance(record, dict):
                    yield line, Problem(line, ROW, "is not a JSON object")
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
