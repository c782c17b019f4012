"""A nightly sweep runs while two other processes add subjects, items and consents: nothing
written is lost, and no command fails with a raw "database is locked"."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

from .bigstore import build

WRITER = textwrap.dedent('''
    import sys
    from pigment_cli.clock import system_now
    from pigment_cli.records.consents import grant
    from pigment_cli.errors import StoreError
    from pigment_cli.records.items import add_item
    from pigment_cli.records.subjects import add_subject
    from pigment_cli.store.session import session

    db, tag, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
    done = []
    for n in range(count):
        for attempt in range(20):
            try:
                with session(db, now=system_now(), actor=tag) as s:
                    subject = add_subject(s, name=f"{tag} writer {n}", external_id=f"{tag}-{n}")
                    add_item(s, subject.id, category="contact", source="form", purpose="care",
                             value=f"{tag}-{n}")
                    grant(s, subject.id, "newsletter", via="web_form")
                done.append(subject.id)
                break
            except StoreError as exc:  # busy for longer than the timeout: a clear, retryable error
                assert "busy" in exc.message, exc.message
        else:
            raise SystemExit(f"{tag}: gave up on operation {n}")
    print("\\n".join(done))
''')


def test_sweep_and_two_writers(tmp_path: Path) -> None:
    db = tmp_path / "busy.db"
    due = build(db, 6000, items_each=2)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    writers = [subprocess.Popen([sys.executable, "-c", WRITER, str(db), tag, "150"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
               for tag in ("alpha", "beta")]
    sweep = subprocess.run([sys.executable, "-m", "pigment_cli", "retention", "sweep", "--apply",
                            "--json", "--as-of", "2026-11-25", "--db", str(db)],
                           capture_output=True, text=True, env=env)
    outputs = [w.communicate(timeout=120) for w in writers]
    assert sweep.returncode == 0, sweep.stderr
    assert "database is locked" not in sweep.stderr
    written = []
    for writer, (out, err) in zip(writers, outputs, strict=True):
        assert writer.returncode == 0, err
        assert "database is locked" not in err and "Traceback" not in err
        written += out.split()
    assert len(written) == 300
    import sqlite3

    conn = sqlite3.connect(db)
    present = {r[0] for r in conn.execute("SELECT id FROM subjects")}
    assert set(written) <= present  # nothing written was lost (new subjects are not due)
    assert not (present & set(due))  # and the sweep still did its job
    items = conn.execute("SELECT count(*) FROM items WHERE value LIKE 'alpha-%' OR value LIKE 'beta-%'").fetchone()[0]
    consents = conn.execute("SELECT count(*) FROM consent_events WHERE recorded_by IN ('alpha', 'beta')").fetchone()[0]
    assert items == 300 and consents == 300
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    conn.close()
