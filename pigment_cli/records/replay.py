"""Replaying the rights journal on a restored store: erasures, consent withdrawals, suppressions
(and their lifting) made since the backup are done again, idempotently, and rectifications, whose
new values the journal never holds, are listed for a person to redo.

What replay matches on:
- a subject erasure: the subject id, and the time the subject was added (another person given the
  same id is never touched); a subject not in the backup is tombstoned, so its id stays taken;
- an item erasure: the item id, its subject, its category, and a fingerprint of the facts that
  never change about it (`item_fingerprint`); journal lines written before fingerprints existed
  match an item only if it was added before the erasure;
- a withdrawal: the subject and purpose (for a specific consent, the keyed hash of the recipient),
  unless the restored ledger already holds it or a later event;
- a suppression or its lifting: the email's keyed hash;
- a restriction, or its lifting: the subject, the purpose (or every purpose) and the time it
  began; an objection: the subject, the purpose and its time (their free text is never
  journalled: a replayed restriction has no reason); an objection's withdrawal: the subject,
  the purpose, and the objections made before it;
- an item's corrected facts (category, source, purpose, basis, collection date): the item id,
  its subject and the fingerprint it had before the correction;
- the register of requests and Art. 19 notices: see `pigment_cli.records.replay_requests`.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from typing import Any

from pigment_cli.policy import WRITTEN_CHANNELS
from pigment_cli.records.consents import ConsentEvent, events_of, standing_grants
from pigment_cli.records.erasure import (
    ErasureBatch,
    ItemRef,
    erase_items,
    erase_subject,
    item_fingerprint,
)
from pigment_cli.records.replay_requests import SCOPES as REGISTER_SCOPES
from pigment_cli.records.replay_requests import RegisterReplay, RegisterReplayer
from pigment_cli.records.suppression import hmac_with, suppression_key
from pigment_cli.store import audit

REPLAY = "restore: replay"


@dataclass
class ReplayResult:
    subjects: int = 0
    items: int = 0
    withdrawals: int = 0
    suppressions: int = 0
    unsuppressions: int = 0
    restrictions: int = 0  # restrictions begun or lifted, and objections, since the backup
    tombstoned: int = 0  # subjects erased after the backup and never in it: ids kept taken
    item_corrections: int = 0  # items' corrected facts (category, dates...) redone
    rectifications: list[dict[str, Any]] = field(default_factory=list)
    register: RegisterReplay = field(default_factory=RegisterReplay)  # requests and notices
    max_item_id: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "replayed_subjects": self.subjects, "replayed_items": self.items,
            "replayed_withdrawals": self.withdrawals,
            "replayed_suppressions": self.suppressions,
            "replayed_unsuppressions": self.unsuppressions, "tombstoned": self.tombstoned,
            "replayed_restrictions": self.restrictions,
            "replayed_item_corrections": self.item_corrections,
            "redo_rectifications": self.rectifications,
            **self.register.to_dict(),
        }


def replay(conn: sqlite3.Connection, entries: list[dict[str, Any]], *, stamp: str,
           actor: str) -> ReplayResult:
    """Bring a restored store up to the journal. Call inside one transaction; nothing replayed
    is journalled again."""
    result = ReplayResult()
    batch = ErasureBatch(stamp, actor, journalled=False, key=suppression_key(conn))
    suppressed_before: dict[str, bool] = {}
    rectified: dict[str, dict[str, Any]] = {}
    register = RegisterReplayer(conn, entries, stamp=stamp, actor=actor)  # before any line
    for entry in entries:
        scope = entry["scope"]
        if scope in REGISTER_SCOPES:
            register.apply(entry)
        elif scope == "subject":
            _subject(conn, entry, result, batch, stamp=stamp, actor=actor)
        elif scope == "items":
            result.max_item_id = max([result.max_item_id, *(int(i) for i in entry["items"])])
            result.items += erase_items(conn, _item_refs(conn, entry), stamp=stamp, actor=actor,
                                        command=REPLAY, batch=batch)
        elif scope == "withdrawal":
            result.withdrawals += _withdrawal(conn, entry, batch.key or b"", stamp=stamp,
                                              actor=actor)
        elif scope in ("suppression", "unsuppression"):
            key = str(entry["email_hmac"])
            present = conn.execute("SELECT 1 FROM suppression WHERE email_hmac = ?",
                                   (key,)).fetchone() is not None
            suppressed_before.setdefault(key, present)
            if scope == "suppression":
                conn.execute("INSERT OR IGNORE INTO suppression (email_hmac, added_at) "
                             "VALUES (?, ?)", (key, entry["at"]))
            else:
                conn.execute("DELETE FROM suppression WHERE email_hmac = ?", (key,))
        elif scope == "rectification":
            _rectification(conn, entry, rectified)
        elif scope == "item_facts":
            result.item_corrections += _item_facts(conn, entry)
        elif scope in ("restriction", "unrestriction", "objection", "objection_withdrawal"):
            result.restrictions += _restriction(conn, entry, stamp=stamp, actor=actor)
    batch.flush(conn)
    result.register = register.finish()
    for key, before in suppressed_before.items():
        after = conn.execute("SELECT 1 FROM suppression WHERE email_hmac = ?",
                             (key,)).fetchone() is not None
        result.suppressions += after and not before
        result.unsuppressions += before and not after
    result.rectifications = sorted(
        (r for r in rectified.values() if conn.execute(
            "SELECT 1 FROM subjects WHERE id = ?", (r["subject_id"],)).fetchone() is not None),
        key=lambda r: (r["at"], r["subject_id"]))
    return result


def _subject(conn: sqlite3.Connection, entry: dict[str, Any], result: ReplayResult,
             batch: ErasureBatch, *, stamp: str, actor: str) -> None:
    subject_id, created = str(entry["subject_id"]), entry.get("created")
    row = conn.execute("SELECT created_at FROM subjects WHERE id = ?", (subject_id,)).fetchone()
    if row is None:
        if any(t[0] == subject_id for t in batch.tombstones):
            return  # erased by an earlier line of this replay (a sweep re-run journals twice)
        added = conn.execute(
            "INSERT OR IGNORE INTO tombstones (subject_id, erased_at, rule) VALUES (?, ?, ?)",
            (subject_id, entry["at"], entry["rule"])).rowcount
        result.tombstoned += added
        return
    if created is not None and row[0] != created:
        return  # someone else was given this id in the backup's history: never them
    if created is None and row[0] > entry["at"]:
        return  # an old journal line: a subject added after that erasure is not the one erased
    # Lines with `created` journal their suppression on their own line; older ones did not and
    # their erasure always suppressed, so replaying one suppresses as it did.
    if erase_subject(conn, subject_id, rule=str(entry["rule"]), stamp=stamp, actor=actor,
                     command=REPLAY, batch=batch, suppress=created is None):
        result.subjects += 1


def _item_refs(conn: sqlite3.Connection, entry: dict[str, Any]) -> list[ItemRef]:
    subject_id, category, rule = str(entry["subject_id"]), str(entry["category"]), str(entry["rule"])
    ids = [int(i) for i in entry["items"]]
    fingerprints = entry.get("fingerprints")
    if isinstance(fingerprints, list) and len(fingerprints) == len(ids):
        return [ItemRef(i, subject_id, category, rule, fingerprint=str(fp))
                for i, fp in zip(ids, fingerprints, strict=True)]
    refs = []
    for item in ids:  # an old journal line: only an item added before the erasure can be it
        row = conn.execute("SELECT created_at FROM items WHERE id = ? AND subject_id = ? AND "
                           "category = ?", (item, subject_id, category)).fetchone()
        if row is not None and row[0] <= entry["at"]:
            refs.append(ItemRef(item, subject_id, category, rule))
    return refs


def _withdrawal(conn: sqlite3.Connection, entry: dict[str, Any], key: bytes, *, stamp: str,
                actor: str) -> int:
    subject_id, purpose, channel, at = (str(entry[k]) for k in ("subject_id", "purpose",
                                                                 "channel", "at"))
    if conn.execute("SELECT 1 FROM subjects WHERE id = ?", (subject_id,)).fetchone() is None:
        return 0  # not in the backup, or erased by an earlier line
    events = events_of(conn, subject_id, purpose)
    if any(e.action == "withdraw" and e.at == at and e.channel == channel for e in events):
        return 0  # the backup holds this withdrawal
    recipient: str | None = None
    recipient_key = entry.get("recipient_key")

    def concerned(e: ConsentEvent) -> bool:  # this recipient's events, and blanket ones
        return not recipient_key or e.recipient is None or (
            hmac_with(key, e.recipient.casefold()) == recipient_key)

    mine = [e for e in events if concerned(e)]
    if mine and mine[-1].at > at:
        return 0  # a later event for it stands (the withdrawal was never recorded over it)
    if recipient_key:
        standing = [g for g in standing_grants(purpose, events)
                    if g.recipient is not None
                    and hmac_with(key, g.recipient.casefold()) == recipient_key]
        if not standing:
            return 0  # no grant to that recipient stands
        recipient = standing[-1].recipient
    elif events and events[-1].action == "withdraw" and events[-1].recipient is None:
        return 0  # already withdrawn
    event = conn.execute(
        "INSERT INTO consent_events (subject_id, purpose, action, channel, written, evidence, "
        "notice_version, at, recorded_by, recorded_at, recipient) "
        "VALUES (?, ?, 'withdraw', ?, ?, ?, NULL, ?, ?, ?, ?)",
        (subject_id, purpose, channel, int(channel in WRITTEN_CHANNELS),
         "restore: replayed from the journal", at, actor, stamp, recipient)).lastrowid
    audit.record(conn, at=stamp, actor=actor, command=f"{REPLAY}: consent withdraw",
                 subject_id=subject_id, event=event, purpose=purpose, channel=channel)
    return 1


def _rectification(conn: sqlite3.Connection, entry: dict[str, Any],
                   rectified: dict[str, dict[str, Any]]) -> None:
    """A rectification the restored store may not hold: its subject is there, last updated
    no later than it (in the same second, it is listed: better checked twice than lost). Fields
    of several rectifications of one subject are listed together."""
    subject_id, at = str(entry["subject_id"]), str(entry["at"])
    row = conn.execute("SELECT updated_at FROM subjects WHERE id = ?", (subject_id,)).fetchone()
    if row is None or row[0] > at:
        return
    listed = rectified.setdefault(subject_id, {"subject_id": subject_id, "fields": [], "at": at})
    listed["fields"] = sorted(set(listed["fields"]) | {str(f) for f in entry["fields"]})
    listed["at"] = max(listed["at"], at)


ITEM_FACTS = ("category", "source", "purpose", "basis", "collected_at")


def _item_facts(conn: sqlite3.Connection, entry: dict[str, Any]) -> int:
    """Redo a correction of an item's facts, on the item it was made on only (its fingerprint
    before the correction matches): later lines (its erasure) then find it as they name it."""
    item, subject_id = int(entry["item"]), str(entry["subject_id"])
    row = conn.execute("SELECT category, created_at, collected_at FROM items WHERE id = ? AND "
                       "subject_id = ?", (item, subject_id)).fetchone()
    if row is None or item_fingerprint(item, subject_id, *row) != entry["fingerprint"]:
        return 0  # not in the backup, erased since, already corrected, or another item
    now = conn.execute(f"SELECT {', '.join(ITEM_FACTS)} FROM items WHERE id = ?",
                       (item,)).fetchone()
    facts = {k: str(entry[k]) for k in ITEM_FACTS if entry.get(k) is not None}
    facts = {k: v for k, v in facts.items() if now[ITEM_FACTS.index(k)] != v}
    if not facts:
        return 0  # the restored store already holds them
    conn.execute(f"UPDATE items SET {', '.join(f'{k} = ?' for k in facts)} WHERE id = ?",
                 (*facts.values(), item))
    return 1


def _restriction(conn: sqlite3.Connection, entry: dict[str, Any], *, stamp: str,
                 actor: str) -> int:
    """A restriction begun or lifted, or an objection, that the restored store does not hold
    (its subject is there): done again. Returns 1 if it was."""
    scope, subject_id, purpose = str(entry["scope"]), str(entry["subject_id"]), entry["purpose"]
    if conn.execute("SELECT 1 FROM subjects WHERE id = ?", (subject_id,)).fetchone() is None:
        return 0  # not in the backup, or erased by an earlier line
    request = entry.get("request_id")
    if scope == "objection_withdrawal":  # every objection to it made before, ended
        ended = conn.execute("UPDATE objections SET withdrawn_at = ? WHERE subject_id = ? AND "
                             "purpose = ? AND at <= ? AND withdrawn_at IS NULL",
                             (entry["at"], subject_id, purpose, entry["at"])).rowcount
        if ended:
            audit.record(conn, at=stamp, actor=actor, command=f"{REPLAY}: object withdraw",
                         subject_id=subject_id, purpose=purpose, objections=ended)
        return 1 if ended else 0
    if scope == "objection":
        if conn.execute("SELECT 1 FROM objections WHERE subject_id = ? AND purpose = ? AND at = ?",
                        (subject_id, purpose, entry["at"])).fetchone() is not None:
            return 0
        made = conn.execute("INSERT INTO objections (subject_id, purpose, request_id, at) "
                            "VALUES (?, ?, ?, ?)", (subject_id, purpose, request, entry["at"]))
        audit.record(conn, at=stamp, actor=actor, command=f"{REPLAY}: object",
                     subject_id=subject_id, objection=made.lastrowid, purpose=purpose)
        return 1
    row = conn.execute("SELECT id, ended_at FROM restrictions WHERE subject_id = ? AND "
                       "purpose IS ? AND started_at = ?",
                       (subject_id, purpose, entry["started_at"])).fetchone()
    if scope == "restriction":
        if row is not None:
            return 0
        made = conn.execute("INSERT INTO restrictions (subject_id, purpose, request_id, "
                            "started_at) VALUES (?, ?, ?, ?)",
                            (subject_id, purpose, request, entry["started_at"]))
        audit.record(conn, at=stamp, actor=actor, command=f"{REPLAY}: restrict",
                     subject_id=subject_id, restriction=made.lastrowid, purpose=purpose)
        return 1
    if row is None or row[1] is not None:
        return 0  # never restricted in this store, or already lifted
    conn.execute("UPDATE restrictions SET ended_at = ?, told_on = ? WHERE id = ?",
                 (entry["at"], entry.get("told_on"), row[0]))
    audit.record(conn, at=stamp, actor=actor, command=f"{REPLAY}: unrestrict",
                 subject_id=subject_id, restriction=row[0], purpose=purpose)
    return 1
