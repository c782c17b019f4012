"""What an import did: counts only (never a value from the file)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from pigment_cli.records.subjects import DuplicateMatch

SHOWN_LINES = 20  # lines of likely duplicates named in the summary line; --json has them all


@dataclass(frozen=True)
class LikelyDuplicate:
    """A new subject from line `line` who looks like `like` (held before, or from the same
    file): imported all the same, reported by ids and line only."""

    line: int
    subject_id: str
    like: list[DuplicateMatch]


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
    erased: int = 0  # items held only for a consent the file withdraws, erased (Art. 7(3))
    clock_today: int = 0  # new subjects without processed_at: their retention clock starts now
    rejects_file: str | None = None
    ignored_columns: list[str] = field(default_factory=list)
    ignored_unnamed: int = 0  # ignored columns whose names look like data: counted, never shown
    likely_duplicates: list[LikelyDuplicate] = field(default_factory=list)  # new subjects only

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
        if self.erased:
            parts.append(f"{self.erased} item(s) held only for a withdrawn consent erased")
        if self.clock_today:
            parts.append(f"{self.clock_today} new without processed_at (their retention clock "
                         "starts today)")
        if self.rejected:
            parts.append(f"{self.rejected} rejected (see {self.rejects_file})")
        if self.likely_duplicates:
            count = len(self.likely_duplicates)
            lines = ", ".join(str(d.line) for d in self.likely_duplicates[:SHOWN_LINES])
            more = f" and {count - SHOWN_LINES} more" if count > SHOWN_LINES else ""
            parts.append(f"{count} likely duplicate{'s' if count > 1 else ''} (a name and date "
                         f"of birth, or an email, shared with another subject: "
                         f"line{'s' if count > 1 else ''} {lines}{more}; ids with --json)")
        return f"imported {self.kind} from {self.file}: {self.rows} rows, " + ", ".join(parts)
