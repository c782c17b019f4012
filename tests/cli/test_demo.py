"""`pigment demo`: a fictional clinic, the same for the same seed, covering the whole policy."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

from pigment_cli.errors import ExitCode
from pigment_cli.policy import default_policy

TABLES = ("subjects", "items", "consent_events", "disclosures", "holds", "requests")


def content(db: Path) -> dict[str, list[tuple]]:
    conn = sqlite3.connect(db)
    try:
        return {t: conn.execute(f"SELECT * FROM {t} ORDER BY 1").fetchall() for t in TABLES}
    finally:
        conn.close()


def test_same_seed_same_clinic_ids_included(cli, tmp_path: Path) -> None:
    first, second, other = tmp_path / "a.db", tmp_path / "b.db", tmp_path / "c.db"
    summary = cli.json("demo", "--subjects", "50", "--seed", "7", "--db", first)
    cli.ok("demo", "--subjects", "50", "--seed", "7", "--db", second)
    cli.ok("demo", "--subjects", "50", "--seed", "8", "--db", other)
    assert summary["subjects"] == 50 and summary["items"] >= 400
    assert content(first) == content(second)
    assert content(first)["subjects"] != content(other)["subjects"]


def test_demo_covers_every_category_and_source_with_fictional_contacts(cli, db: Path) -> None:
    cli.ok("demo", "--subjects", "50")
    conn = sqlite3.connect(db)
    try:
        categories = {r[0] for r in conn.execute("SELECT DISTINCT category FROM items")}
        sources = {r[0] for r in conn.execute("SELECT DISTINCT source FROM items")}
        emails = [r[0] for r in conn.execute("SELECT email FROM subjects")]
        phones = [r[0] for r in conn.execute("SELECT phone FROM subjects")]
        years = {r[0][:4] for r in conn.execute("SELECT collected_at FROM items "
                                                "WHERE category = 'payment'")}
        # The retention clock is the latest processing of their data for a purpose (an item);
        # consents, disclosures and requests never move it.
        stale = conn.execute(
            "SELECT count(*) FROM subjects s WHERE last_processed_at IS NOT "
            "(SELECT max(processed_at) FROM items WHERE subject_id = s.id)"
        ).fetchone()[0]
        bases = conn.execute(
            "SELECT count(*) FROM items WHERE purpose IN ('newsletter', 'satisfaction_survey', "
            "'personalised_ads', 'cookies') AND basis != 'consent'").fetchone()[0]
    finally:
        conn.close()
    policy = default_policy()
    assert categories == set(policy.keys("categories"))
    assert sources == set(policy.keys("sources"))
    assert all(re.fullmatch(r"[a-z.\-]+\d+@example\.(org|com|net)", e) for e in emails), emails
    assert all(re.fullmatch(r"07700 900\d{3}", p) for p in phones)
    assert len(years) >= 5  # appointments and payments spread over ten years
    assert stale == 0
    assert bases == 0


def test_demo_creates_the_store_and_refuses_one_with_subjects(cli, db: Path, subject_id: str,
                                                              tmp_path: Path) -> None:
    result = cli("demo", "--subjects", "5")
    assert result.exit_code == ExitCode.BAD_INPUT
    assert "already holds subjects" in result.stderr
    assert cli.json("subject", "list")["total"] == 1
    fresh = tmp_path / "new" / "demo.db"
    result = cli.ok("demo", "--subjects", "5", "--db", fresh)
    assert "created store" in result.stderr and "fictional clinic built" in result.stderr
    assert cli.json("subject", "list", "--db", fresh)["total"] == 5
    log = cli.json("audit", "log", "--db", fresh)
    assert [e["command"] for e in log] == ["init", "demo", "subject list"]
    assert log[1]["detail"]["subjects"] == 5


def test_demo_dates_count_back_from_as_of(cli, db: Path) -> None:
    summary = cli.json("demo", "--subjects", "20", "--as-of", "2020-06-30")
    assert summary["as_of"] == "2020-06-30"
    conn = sqlite3.connect(db)
    try:
        newest = conn.execute("SELECT max(processed_at) FROM items").fetchone()[0]
        oldest = conn.execute("SELECT min(collected_at) FROM items").fetchone()[0]
    finally:
        conn.close()
    assert newest[:10] <= "2020-06-30" and oldest[:4] >= "2010"


def test_make_demos_seed_script_loads_the_example_clinic(tmp_path: Path) -> None:
    """What `make demo` runs (on the real clock): the example clinic must keep loading as the
    rules tighten (it broke once when purposes began to list their categories)."""
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[2]
    db = tmp_path / "demo.db"
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "PIGMENT_ACTOR": "demo"}
    run = [sys.executable, "-m", "pigment_cli", "init", "--db", str(db), "--policy",
           str(root / "examples" / "policy.toml")]
    assert subprocess.run(run, env=env, capture_output=True).returncode == 0
    seeded = subprocess.run([sys.executable, str(root / "examples" / "seed_demo.py"), "--db",
                             str(db)], env=env, capture_output=True, text=True)
    assert seeded.returncode == 0, seeded.stderr[-2000:]
    assert re.fullmatch(r"S-[0-9A-Z]{5}\n", seeded.stdout)
    kinds = {r[0] for r in sqlite3.connect(db).execute("SELECT kind FROM requests")}
    assert kinds == {"access", "rectification", "complaint"}
