"""The physical floor for bench/run: the rows of an items CSV inserted with plain sqlite3
`executemany` into the same schema, in one transaction, with the page cache pigment's import uses.

Usage: python bench/raw_import.py STORE ITEMS.csv
"""

import csv
import sqlite3
import sys

BULK_CACHE_KIB = 49152  # as pigment_cli.importer.BULK_CACHE_KIB


def main(store: str, path: str) -> None:
    conn = sqlite3.connect(store, isolation_level=None)
    conn.execute("PRAGMA foreign_keys = ON")
    conn.execute(f"PRAGMA cache_size = -{BULK_CACHE_KIB}")
    ids = dict(conn.execute("SELECT external_id, id FROM subjects"))
    stamp = "2026-01-01T00:00:00"
    conn.execute("BEGIN IMMEDIATE")
    with open(path, encoding="utf-8", newline="") as handle:
        reader = csv.reader(handle)
        next(reader)
        conn.executemany(
            "INSERT INTO items (subject_id, category, source, purpose, basis, value, collected_at, "
            "processed_at, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            ((ids[r[0]], r[1], r[2], r[3], r[4], r[5], r[6], r[7], stamp) for r in reader),
        )
    conn.execute("COMMIT")
    conn.close()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
