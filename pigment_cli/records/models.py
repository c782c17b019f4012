"""Frozen records that cross layers (domain -> CLI renderers, JSON, CSV, the access report)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class Subject:
    id: str
    name: str
    title: str | None
    dob: str | None
    email: str | None
    phone: str | None
    address: str | None
    external_id: str | None
    created_at: str
    updated_at: str
    last_processed_at: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Item:
    id: int
    subject_id: str
    category: str
    source: str
    purpose: str
    basis: str
    value: str | None
    collected_at: str
    processed_at: str
    erasure_due: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
