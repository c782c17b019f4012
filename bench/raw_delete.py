"""The physical floor for bench/run's retention sweep: one indexed DELETE of every subject whose
last processing is older than the cutoff (their items, consents, disclosures... go by ON DELETE
CASCADE), with secure_delete=ON, in one transaction. Prints the number of subjects deleted.

Usage: python bench/raw_delete.py STORE CUTOFF
"""

import sqlite3
import sys


def main(store: str, cutoff: str) -> None:
    conn = sqlite3.connect(store, isolation_level=None)
    conn.execute("PRAGMA foreign_keys = ON")
    conn.execute("PRAGMA secure_delete = ON")
    conn.execute("BEGIN IMMEDIATE")
    deleted = conn.execute("DELETE FROM subjects WHERE last_processed_at < ?", (cutoff,)).rowcount
    conn.execute("COMMIT")
    conn.close()
    print(deleted)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
