"""Retention: when the policy's rules make a subject, or a single item, fall due; the plan of what a
sweep would erase; and the sweep itself.

The default rule runs from the subject's last processing (the latest processing of any of their
data); an age-based rule can keep a child's records longer; a category's own rule runs from the
item's own last processing, and an item falls due at the earlier of its rule and its subject's.
Holds and open subject-access requests keep a subject's data, whatever the rules say.
"""

from __future__ import annotations

import sqlite3
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import lru_cache
from typing import Any

from dateutil.relativedelta import relativedelta

from pigment_cli.clock import day_of
from pigment_cli.policy import Policy, parse_duration

BATCH_SECONDS = 0.5  # each sweep transaction ends after this long: the write lock stays short
BATCH_MAX = 5000  # ... or after this many subjects or items
SLACK = timedelta(days=4)  # month-end clamping moves a due date back by at most 3 days


@lru_cache(maxsize=65536)
def after(day: date, duration: str) -> date:
    """`day` plus a policy duration (`7y`, `13m`, `30d`), on the calendar. Cached: a sweep over
    100,000 subjects meets a few thousand distinct days."""
    return day + parse_duration(duration)


def subject_due(policy: Policy, last_processed_at: str, dob: str | None = None) -> date:
    """The day the subject's data falls due under the default rule (and the minors rule)."""
    due = after(day_of(last_processed_at), policy.data["retention"]["default"])
    minors = policy.data["retention"].get("minors")
    if minors and dob:
        born, ended = date.fromisoformat(dob), day_of(last_processed_at)
        age = relativedelta(ended, born).years
        if age < 18:
            until_age = minors["until_age"]
            if age == 17 and "until_age_if_17" in minors:
                until_age = minors["until_age_if_17"]
            due = max(due, after(born, f"{until_age}y"))
    return due


def item_due(policy: Policy, category: str, processed_at: str, subject_due_on: date) -> date:
    rule = policy.data["retention"]["categories"].get(category)
    if rule is None:
        return subject_due_on
    return min(after(day_of(processed_at), rule["after"]), subject_due_on)


def subject_rule(policy: Policy, last_processed_at: str, dob: str | None,
                 due: date | None = None) -> str:
    """The name of the rule that decides a subject's date (kept on the tombstone)."""
    retention = policy.data["retention"]
    if retention.get("minors") and dob:
        plain = after(day_of(last_processed_at), retention["default"])
        due = due or subject_due(policy, last_processed_at, dob)
        if due > plain:
            return f"minors:{relativedelta(due, date.fromisoformat(dob)).years}"
    return f"default:{retention['default']}"


# --- what keeps data ---------------------------------------------------------------------------


def active_holds(conn: sqlite3.Connection, today: date,
                 subject_ids: Iterable[str] | None = None) -> dict[str, list[str]]:
    """subject id -> reasons erasure must wait: active holds and open subject-access requests."""
    reasons: dict[str, list[str]] = {}
    ids = None if subject_ids is None else list(subject_ids)
    for sql in (
        "SELECT subject_id, 'hold ' || id || coalesce(' until ' || until, '') FROM holds "
        "WHERE released_at IS NULL AND (until IS NULL OR until >= :today)",
        "SELECT subject_id, 'open subject-access request ' || id FROM requests "
        "WHERE status = 'open'",
    ):
        if ids is None:
            rows = conn.execute(sql, {"today": today.isoformat()}).fetchall()
        else:
            rows = []
            for start in range(0, len(ids), 500):
                chunk = ids[start:start + 500]
                names = {f"s{n}": sid for n, sid in enumerate(chunk)}
                marks = ",".join(f":{name}" for name in names)
                rows += conn.execute(f"{sql} AND subject_id IN ({marks})",
                                     {"today": today.isoformat(), **names}).fetchall()
        for subject_id, reason in rows:
            reasons.setdefault(subject_id, []).append(reason)
    return reasons


# --- the plan -----------------------------------------------------------------------------------


@dataclass
class Plan:
    as_of: date
    subjects: list[dict[str, Any]] = field(default_factory=list)  # whole subjects due now
    items: list[dict[str, Any]] = field(default_factory=list)  # single items due now
    held: list[dict[str, Any]] = field(default_factory=list)  # due, but kept, with reasons
    forecast: list[dict[str, Any]] = field(default_factory=list)  # next 12 months, by month

    def to_dict(self) -> dict[str, Any]:
        return {
            "as_of": self.as_of.isoformat(),
            "subjects_due": len(self.subjects),
            "items_due": len(self.items),
            "held": len(self.held),
            "subjects": self.subjects,
            "items": self.items,
            "held_subjects": self.held,
            "forecast": self.forecast,
        }


def _slack_cutoff(as_of: date, rule: relativedelta) -> str:
    """A text bound for an index range scan: every day whose due date is <= as_of lies below it
    (SLACK days for month-end clamping: 29-31 January + 13 months are all 28 February; the exact
    test is done in Python)."""
    return (as_of - rule + SLACK).isoformat()


def _due_subjects(conn: sqlite3.Connection, policy: Policy, as_of: date) -> list[dict[str, Any]]:
    rows = conn.execute(
        "SELECT id, dob, last_processed_at FROM subjects WHERE last_processed_at < ? "
        "ORDER BY last_processed_at, id",
        (_slack_cutoff(as_of, policy.default_retention),),
    ).fetchall()
    due = []
    for subject_id, dob, last in rows:
        on = subject_due(policy, last, dob)
        if on <= as_of:
            due.append({"subject_id": subject_id, "due": on.isoformat(),
                        "last_processed_at": last, "rule": subject_rule(policy, last, dob, on)})
    return due


def _due_items(conn: sqlite3.Connection, policy: Policy, as_of: date) -> list[dict[str, Any]]:
    due = []
    for category in policy.data["retention"]["categories"]:
        rule = policy.category_retention(category)
        assert rule is not None
        rows = conn.execute(
            "SELECT id, subject_id, processed_at FROM items WHERE category = ? AND processed_at < ? "
            "ORDER BY processed_at, id",
            (category, _slack_cutoff(as_of, rule)),
        ).fetchall()
        for item_id, subject_id, processed in rows:
            on = after(day_of(processed), policy.data["retention"]["categories"][category]["after"])
            if on <= as_of:
                due.append({"item": item_id, "subject_id": subject_id, "category": category,
                            "due": on.isoformat(),
                            "rule": f"{category}:{policy.data['retention']['categories'][category]['after']}"})
    return due


def _forecast(conn: sqlite3.Connection, policy: Policy, as_of: date,
              months: int = 12) -> list[dict[str, Any]]:
    horizon = as_of + relativedelta(months=months)
    buckets: dict[str, Counter[str]] = {}
    for offset in range(months):
        month = (as_of + relativedelta(months=offset)).strftime("%Y-%m")
        buckets[month] = Counter()
    rows = conn.execute(
        "SELECT dob, last_processed_at FROM subjects WHERE last_processed_at >= ? "
        "AND last_processed_at < ?",
        ((as_of - policy.default_retention - SLACK).isoformat(),
         (horizon - policy.default_retention + SLACK).isoformat()),
    ).fetchall()
    minors = policy.data["retention"].get("minors")
    if minors:  # children kept past the default rule fall due on a birthday instead
        oldest = max(minors["until_age"], minors.get("until_age_if_17", 0))
        rows += conn.execute(
            "SELECT dob, last_processed_at FROM subjects WHERE dob >= ? AND last_processed_at < ?",
            ((as_of - relativedelta(years=oldest) - SLACK).isoformat(),
             (as_of - policy.default_retention - SLACK).isoformat()),
        ).fetchall()
    for dob, last in rows:
        on = subject_due(policy, last, dob)
        if as_of < on <= horizon:
            buckets.get(on.strftime("%Y-%m"), Counter())["subjects"] += 1
    for category in policy.data["retention"]["categories"]:
        rule = policy.category_retention(category)
        assert rule is not None
        for (processed,) in conn.execute(
            "SELECT processed_at FROM items WHERE category = ? AND processed_at >= ? "
            "AND processed_at < ?",
            (category, (as_of - rule - SLACK).isoformat(),
             (horizon - rule + SLACK).isoformat()),
        ):
            on = after(day_of(processed), policy.data["retention"]["categories"][category]["after"])
            if as_of < on <= horizon:
                buckets.get(on.strftime("%Y-%m"), Counter())["items"] += 1
    return [{"month": month, "subjects": c["subjects"], "items": c["items"]}
            for month, c in buckets.items()]


def plan(conn: sqlite3.Connection, policy: Policy, as_of: date, *,
         forecast: bool = True) -> Plan:
    """What a sweep on `as_of` would erase, what it would keep and why. Reads only."""
    result = Plan(as_of)
    due_subjects = _due_subjects(conn, policy, as_of)
    reasons = active_holds(conn, as_of)
    for entry in due_subjects:
        if entry["subject_id"] in reasons:
            result.held.append({**entry, "reasons": reasons[entry["subject_id"]]})
        else:
            result.subjects.append(entry)
    erasing = {e["subject_id"] for e in result.subjects}
    held_ids = {e["subject_id"] for e in result.held}
    for entry in _due_items(conn, policy, as_of):
        subject_id = entry["subject_id"]
        if subject_id in erasing:
            continue  # goes with its subject
        if subject_id in reasons:
            if subject_id not in held_ids:
                held_ids.add(subject_id)
                result.held.append({**entry, "reasons": reasons[subject_id]})
            continue
        result.items.append(entry)
    if forecast:
        result.forecast = _forecast(conn, policy, as_of)
    return result


# --- the sweep ----------------------------------------------------------------------------------


@dataclass
class SweepResult:
    as_of: str
    applied: bool
    erased_subjects: int = 0
    erased_items: int = 0
    held: list[dict[str, Any]] = field(default_factory=list)
    errors: int = 0
    duration_s: float = 0.0
    checkpointed: bool = False

    def held_subjects(self) -> list[dict[str, Any]]:
        """One entry per held subject (whether its whole record or single items were due)."""
        seen: dict[str, dict[str, Any]] = {}
        for entry in self.held:
            seen.setdefault(entry["subject_id"], {"subject_id": entry["subject_id"],
                                                  "due": entry["due"], "reasons": entry["reasons"]})
        return list(seen.values())

    def to_dict(self) -> dict[str, Any]:
        held = self.held_subjects()
        return {
            "as_of": self.as_of, "applied": self.applied,
            "erased_subjects": self.erased_subjects, "erased_items": self.erased_items,
            "held": len(held), "held_subjects": held, "errors": self.errors,
            "duration_s": round(self.duration_s, 3), "checkpointed": self.checkpointed,
        }


def sweep(conn: sqlite3.Connection, policy: Policy, as_of: date, *, stamp: str, actor: str,
          apply: bool, progress: Callable[[int, int], None] | None = None,
          clock: Callable[[], float] = time.monotonic) -> SweepResult:
    """Erase what is due on `as_of` (only with `apply`), in bounded batches, each its own
    transaction. A sweep killed at any point leaves whole subjects erased or whole subjects kept;
    the next sweep recomputes what is due and finishes the job. Call with no open transaction."""
    from pigment_cli import audit
    from pigment_cli.erasure import ErasureBatch, erase_items, erase_subject, scrub_files
    from pigment_cli.store import suppression_key, transaction

    started = clock()
    the_plan = plan(conn, policy, as_of, forecast=False)
    result = SweepResult(as_of.isoformat(), apply, held=the_plan.held)
    if not apply:
        result.erased_subjects, result.erased_items = len(the_plan.subjects), len(the_plan.items)
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

    def batches(entries: list[dict[str, Any]], current: Callable[[list[Any]], dict[Any, Any]],
                key: str):  # noqa: ANN202 - yields (entry, held, now, batch)
        """Chunks of work, each one transaction that ends after BATCH_SECONDS (or BATCH_MAX
        entries): the write lock is never held for long, however large the sweep. Inside each
        transaction the rows are read afresh (`current`), so a subject or item processed, held or
        asked about since the plan was made is left alone."""
        index = 0
        while index < len(entries):
            chunk = entries[index:index + BATCH_MAX]
            with transaction(conn):
                held_now = active_holds(conn, as_of)  # a small table: read whole, once a batch
                now = current([e[key] for e in chunk])
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
    by_id = sorted(the_plan.subjects, key=lambda e: e["subject_id"])
    for entry, held_now, now, batch in batches(
            by_id, lambda ids: _subjects_now(conn, ids), "subject_id"):
        subject_id = entry["subject_id"]
        row = now.get(subject_id)  # (email, items, last_processed_at, dob), or gone already
        if subject_id in held_now:
            result.held.append({**entry, "reasons": held_now[subject_id]})
        elif row is not None and subject_due(policy, row[2], row[3]) <= as_of and erase_subject(
                conn, subject_id, rule=entry["rule"], stamp=stamp, actor=actor,
                command="retention sweep", batch=batch, known=(row[0], row[1])):
            result.erased_subjects += 1
    done = len(the_plan.subjects)
    for entry, held_now, now, batch in batches(
            sorted(the_plan.items, key=lambda e: e["item"]), lambda ids: _items_now(conn, ids), "item"):
        processed = now.get(entry["item"])
        rule = policy.data["retention"]["categories"][entry["category"]]["after"]
        if (entry["subject_id"] not in held_now and processed is not None
                and after(day_of(processed), rule) <= as_of):
            result.erased_items += erase_items(conn, [entry], stamp=stamp, actor=actor,
                                               command="retention sweep", batch=batch)
    result.duration_s = clock() - started
    with transaction(conn):
        conn.execute(
            "UPDATE sweeps SET finished_at = ?, erased_subjects = ?, erased_items = ?, held = ?, "
            "status = 'done' WHERE id = ?",
            (stamp, result.erased_subjects, result.erased_items, len(result.held), sweep_id),
        )
    result.checkpointed = scrub_files(conn)
    return result


def _subjects_now(conn: sqlite3.Connection,
                  subject_ids: list[str]) -> dict[str, tuple[str | None, int, str, str | None]]:
    """subject id -> (email, items held, last processing, date of birth), as the store has them
    now, for the subjects still present."""
    marks = ",".join("?" * len(subject_ids))
    return {row[0]: tuple(row[1:]) for row in conn.execute(
        f"SELECT id, email, (SELECT count(*) FROM items WHERE subject_id = s.id), "
        f"last_processed_at, dob FROM subjects s WHERE id IN ({marks})", subject_ids)}


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


class SweepLock:
    """One sweep at a time: an exclusive, non-blocking flock on `<store>-sweep.lock` (released by
    the kernel if the sweep is killed). A second sweep fails at once with exit 4, not a hang."""

    def __init__(self, store_path: Any) -> None:
        self.path = f"{store_path}-sweep.lock"
        self.fd: int | None = None

    def __enter__(self) -> SweepLock:
        import fcntl
        import os

        from pigment_cli.errors import StoreError

        self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(self.fd)
            self.fd = None
            raise StoreError("another retention sweep or erasure is running on this store; "
                             "try again when it has finished") from None
        return self

    def __exit__(self, *exc: object) -> None:
        import os

        if self.fd is not None:
            os.close(self.fd)  # closing releases the flock
            self.fd = None
