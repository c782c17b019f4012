"""The retention sweep: erase what the plan says is due, in bounded batches, each its own
transaction, re-reading every subject and item inside it (anything processed, held or asked about
since the plan was made is left alone). One sweep at a time: callers hold the store's lock."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any, TypeVar

from pigment_cli.clock import day_of
from pigment_cli.policy import Policy
from pigment_cli.policy.rules import after, subject_due
from pigment_cli.records.erasure import ErasureBatch, erase_items, erase_subject, scrub_files
from pigment_cli.records.holds import active_holds
from pigment_cli.records.registers import sweep_registers
from pigment_cli.records.suppression import suppression_key
from pigment_cli.retention.plan import (
    WITHDRAWN,
    DueItem,
    DueSubject,
    Held,
    consent_withdrawn,
    plan,
)
from pigment_cli.rights.requests import sweep_closed
from pigment_cli.store import audit
from pigment_cli.store.tx import transaction

BATCH_SECONDS = 0.5  # each sweep transaction ends after this long: the write lock stays short
BATCH_MAX = 5000  # ... or after this many subjects or items
E = TypeVar("E", DueSubject, DueItem)


@dataclass
class SweepResult:
    as_of: str
    applied: bool
    erased_subjects: int = 0
    erased_items: int = 0
    erased_requests: int = 0  # closed requests of people no longer in the store, kept long enough
    erased_breaches: int = 0  # closed breaches past `[registers] breaches_keep`
    erased_dpias: int = 0  # ended DPIAs past `dpias_keep`
    erased_processors: int = 0  # ended processors past `processors_keep`
    held: list[Held] = field(default_factory=list)
    errors: int = 0
    duration_s: float = 0.0
    checkpointed: bool = False

    def held_subjects(self) -> list[dict[str, Any]]:
        """One entry per held subject (whether its whole record or single items were due)."""
        seen: dict[str, dict[str, Any]] = {}
        for held in self.held:
            seen.setdefault(held.subject_id, {"subject_id": held.subject_id, "due": held.due,
                                              "reasons": held.reasons})
        return list(seen.values())

    def to_dict(self) -> dict[str, Any]:
        held = self.held_subjects()
        return {
            "as_of": self.as_of, "applied": self.applied,
            "erased_subjects": self.erased_subjects, "erased_items": self.erased_items,
            "erased_requests": self.erased_requests,
            "erased_breaches": self.erased_breaches, "erased_dpias": self.erased_dpias,
            "erased_processors": self.erased_processors,
            "held": len(held), "held_subjects": held, "errors": self.errors,
            "duration_s": round(self.duration_s, 3), "checkpointed": self.checkpointed,
        }


def sweep(conn: sqlite3.Connection, policy: Policy, as_of: date, *, stamp: str, actor: str,
          apply: bool, progress: Callable[[int, int], None] | None = None,
          clock: Callable[[], float] = time.monotonic) -> SweepResult:
    """Erase what is due on `as_of` (only with `apply`), in bounded batches, each its own
    transaction. A sweep killed at any point leaves whole subjects erased or whole subjects kept;
    the next sweep recomputes what is due and finishes the job. Call with no open transaction."""
    started = clock()
    the_plan = plan(conn, policy, as_of, forecast=False)
    result = SweepResult(as_of.isoformat(), apply, held=list(the_plan.held))
    if not apply:
        result.erased_subjects, result.erased_items = len(the_plan.subjects), len(the_plan.items)
        result.erased_requests = sweep_closed(conn, policy, as_of, stamp=stamp, actor=actor,
                                              apply=False)
        _count_registers(result, sweep_registers(conn, policy, as_of, stamp=stamp, actor=actor,
                                                 apply=False))
        result.duration_s = clock() - started
        return result
    with transaction(conn):
        # A sweep still "running" here was killed (the sweep lock is ours): say so.
        conn.execute("UPDATE sweeps SET status = 'interrupted' WHERE status = 'running'")
        sweep_id = conn.execute(
            "INSERT INTO sweeps (started_at, as_of, status) VALUES (?, ?, 'running')",
            (stamp, as_of.isoformat()),
        ).lastrowid
        audit.record(conn, at=stamp, actor=actor, command="retention sweep", sweep=sweep_id,
                     as_of=as_of.isoformat(), subjects_due=len(the_plan.subjects),
                     items_due=len(the_plan.items), held=len(the_plan.held))
    # A power cut may undo the last batches (never corrupt): the next sweep redoes them, and the
    # erasure journal is fsynced before each commit. Without an fsync per commit the sweep stays
    # within a small factor of one raw DELETE.
    conn.execute("PRAGMA synchronous = NORMAL")
    conn.execute("PRAGMA cache_size = -65536")  # 64 MiB: the sweep revisits the same index pages
    conn.execute("PRAGMA wal_autocheckpoint = 10000")  # checkpoint in big steps; TRUNCATE at the end
    total = len(the_plan.subjects) + len(the_plan.items)
    done = 0

    def batches(entries: Sequence[E], current: Callable[[list[Any]], dict[Any, Any]],
                key: Callable[[E], Any]) -> Iterator[tuple[E, dict[str, list[str]], dict[Any, Any],
                                                           ErasureBatch]]:
        """Chunks of work, each one transaction that ends after BATCH_SECONDS (or BATCH_MAX
        entries): the write lock is never held for long, however large the sweep. Inside each
        transaction the rows are read afresh (`current`), so a subject or item processed, held or
        asked about since the plan was made is left alone."""
        index = 0
        while index < len(entries):
            chunk = entries[index:index + BATCH_MAX]
            with transaction(conn):
                held_now = active_holds(conn, as_of)  # a small table: read whole, once a batch
                now = current([key(e) for e in chunk])
                batch = ErasureBatch(stamp, actor, key=suppression_key(conn))
                began = clock()
                taken = 0
                for entry in chunk:
                    taken += 1
                    yield entry, held_now, now, batch
                    if clock() - began > BATCH_SECONDS:
                        break
                batch.flush(conn)  # the journal is fsynced before the batch commits
            index += taken
            if progress:
                progress(done + index, total)

    # In id order, each batch touches its own stretch of the subject and item indexes, so few
    # pages are written to the WAL more than once (measured: about 12% faster on 100k subjects).
    marketing = [p for p in policy.consent_purposes() if policy.purpose(p).direct_marketing]

    def subject_key(e: DueSubject) -> str:
        return e.subject_id

    def item_key(e: DueItem) -> int:
        return e.item

    by_id = sorted(the_plan.subjects, key=subject_key)
    for entry, held_now, now, batch in batches(
            by_id, lambda ids: _subjects_now(conn, ids, marketing), subject_key):
        subject_id = entry.subject_id
        row = now.get(subject_id)  # (email, items, last processed, dob, opted out), or gone
        if subject_id in held_now:
            result.held.append(Held(entry, held_now[subject_id]))
        elif row is not None and subject_due(policy, row[2], row[3]) <= as_of and erase_subject(
                conn, subject_id, rule=entry.rule, stamp=stamp, actor=actor,
                command="retention sweep", batch=batch, known=(row[0], row[1]),
                suppress=bool(row[4])):
            result.erased_subjects += 1
    done = len(the_plan.subjects)
    for item, held_now, now, batch in batches(
            sorted(the_plan.items, key=item_key), lambda ids: _items_now(conn, ids), item_key):
        processed = now.get(item.item)
        if item.subject_id not in held_now and processed is not None and _still_due(
                conn, policy, item, processed, as_of):
            result.erased_items += erase_items(conn, [item], stamp=stamp, actor=actor,
                                               command="retention sweep", batch=batch)
    with transaction(conn):
        result.erased_requests = sweep_closed(conn, policy, as_of, stamp=stamp, actor=actor,
                                              apply=True)
        _count_registers(result, sweep_registers(conn, policy, as_of, stamp=stamp, actor=actor,
                                                 apply=True))
    result.duration_s = clock() - started
    with transaction(conn):
        conn.execute(
            "UPDATE sweeps SET finished_at = ?, erased_subjects = ?, erased_items = ?, held = ?, "
            "status = 'done' WHERE id = ?",
            (stamp, result.erased_subjects, result.erased_items, len(result.held), sweep_id),
        )
    result.checkpointed = scrub_files(conn, stamp)  # notes (or clears) erased values left in the WAL
    return result


def _count_registers(result: SweepResult, counts: dict[str, int]) -> None:
    result.erased_breaches = counts["erased_breaches"]
    result.erased_dpias = counts["erased_dpias"]
    result.erased_processors = counts["erased_processors"]


def _still_due(conn: sqlite3.Connection, policy: Policy, item: DueItem, processed: str,
              as_of: date) -> bool:
    """Is the item still due now, inside the batch's transaction (not processed again since
    the plan, and, for data held on a withdrawn consent, not consented to again)?"""
    if item.rule.startswith(WITHDRAWN):
        return consent_withdrawn(conn, item.subject_id, item.rule.removeprefix(WITHDRAWN))
    rule = policy.retention_for(item.category)
    return rule is not None and after(day_of(processed), rule.after) <= as_of


def _subjects_now(conn: sqlite3.Connection, subject_ids: list[str], marketing: list[str]
                  ) -> dict[str, tuple[str | None, int, str, str | None, int]]:
    """subject id -> (email, items held, last processing, date of birth, opted out of marketing:
    their latest event for a direct-marketing purpose is a withdrawal), as the store has them
    now, for the subjects still present. Only someone who opted out keeps a suppression entry
    after a retention sweep (ICO direct-marketing guidance)."""
    marks = ",".join("?" * len(subject_ids))
    purposes = ",".join(f"'{p}'" for p in marketing)  # policy keys: lower_snake_case only
    return {row[0]: tuple(row[1:]) for row in conn.execute(
        f"SELECT id, email, (SELECT count(*) FROM items WHERE subject_id = s.id), "
        f"last_processed_at, dob, EXISTS (SELECT 1 FROM consent_events e "
        f"WHERE e.subject_id = s.id AND e.action = 'withdraw' AND e.purpose IN ({purposes}) "
        f"AND NOT EXISTS (SELECT 1 FROM consent_events g WHERE g.subject_id = s.id "
        f"AND g.purpose = e.purpose AND (g.at > e.at OR (g.at = e.at AND g.id > e.id)))) "
        f"FROM subjects s WHERE id IN ({marks})", subject_ids)}


def _items_now(conn: sqlite3.Connection, item_ids: list[int]) -> dict[int, str]:
    """item id -> its last processing, as the store has it now."""
    marks = ",".join("?" * len(item_ids))
    return dict(conn.execute(
        f"SELECT id, processed_at FROM items WHERE id IN ({marks})", item_ids).fetchall())


def last_sweep(conn: sqlite3.Connection) -> dict[str, Any] | None:
    row = conn.execute(
        "SELECT id, started_at, finished_at, as_of, erased_subjects, erased_items, held, status "
        "FROM sweeps ORDER BY id DESC LIMIT 1"
    ).fetchone()
    return dict(row) if row else None
