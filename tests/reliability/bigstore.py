"""Build a large store fast (straight SQL into the real schema) for crash and load tests."""

from __future__ import annotations

import random
from pathlib import Path

from pigment_cli.policy import default_policy, store_policy
from pigment_cli.store.audit import record
from pigment_cli.store.connection import init_store
from pigment_cli.store.tx import transaction


def build(path: Path, subjects: int, *, due_fraction: float = 0.3, items_each: int = 3,
          seed: int = 7) -> list[str]:
    """Create a store with `subjects` subjects; about `due_fraction` of them last processed in
    2017 (due in 2024), the rest in 2025. Returns the ids of the due subjects."""
    rng = random.Random(seed)
    conn = init_store(path)
    conn.execute("PRAGMA cache_size = -65536")
    due = []
    with transaction(conn):
        policy = default_policy()
        version = store_policy(conn, policy, "2026-01-01T00:00:00", "bigstore")
        # as `init` records it: the policy is tied to the audit trail (a store from before audit
        # keys: no key, no anchor; its first writing command starts both)
        record(conn, at="2026-01-01T00:00:00", actor="bigstore", command="init",
               policy_version=version, sha256=policy.sha256)
        subject_rows, item_rows = [], []
        for n in range(subjects):
            sid = f"S-{n:05d}"[:2] + f"{n:05X}".replace("I", "J").replace("O", "P")[-5:]
            old = rng.random() < due_fraction
            last = f"2017-0{rng.randint(1, 9)}-1{rng.randint(0, 9)}" if old else "2025-06-01"
            if old:
                due.append(sid)
            subject_rows.append((sid, f"Bulk Person {n}", f"bulk{n}@example.org", last, last, last, last))
            for k in range(items_each):
                item_rows.append((sid, "medical_history", "consultation", "medical_records",
                                  "contract", f"bulk note {n}-{k}", last, last, last))
        conn.executemany(
            "INSERT INTO subjects (id, name, email, created_at, updated_at, last_processed_at, "
            "dob) VALUES (?, ?, ?, ?, ?, ?, NULL)",
            [r[:6] for r in subject_rows])
        conn.executemany(
            "INSERT INTO items (subject_id, category, source, purpose, basis, value, collected_at, "
            "processed_at, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", item_rows)
    conn.close()
    return due
