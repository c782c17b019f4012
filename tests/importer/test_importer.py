"""The import domain API: one transaction per file, progress, matching re-imported items, and
suppressed emails counted."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import domain, row_count

from pigment_cli.errors import BadInput, ExitCode
from pigment_cli.importer import ImportRejected, import_file


def _subjects_file(path: Path, n: int) -> Path:
    path.write_text("external_id,name\n" + "".join(f"E{i},Person {i}\n" for i in range(n)),
                    encoding="utf-8")
    return path


def test_an_interrupted_import_leaves_nothing_behind(store: Path, tmp_path: Path) -> None:
    """A kill (here: an interrupt from the progress callback after several batches) rolls the
    whole file back: never half a batch, never half a file."""
    path = _subjects_file(tmp_path / "many.csv", 9000)
    calls: list[tuple[int, int]] = []

    def progress(done: int, total: int) -> None:
        calls.append((done, total))
        if len(calls) == 4:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt), domain(store) as s:
        import_file(s, "subjects", path, progress=progress)
    assert row_count(store, "subjects") == 0
    assert [c[1] for c in calls] == [path.stat().st_size] * 4
    assert calls == sorted(calls)


def test_progress_reaches_the_end(store: Path, tmp_path: Path) -> None:
    path = _subjects_file(tmp_path / "few.csv", 10)
    calls: list[tuple[int, int]] = []
    with domain(store) as s:
        summary = import_file(s, "subjects", path, progress=lambda d, t: calls.append((d, t)))
    assert summary.inserted == 10
    assert calls[-1] == (path.stat().st_size, path.stat().st_size)


def test_rejected_import_carries_the_first_problems(store: Path, tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("external_id,name,email\n" + "E,X,not-an-email\n" * 70, encoding="utf-8")
    with pytest.raises(ImportRejected) as caught, domain(store) as s:
        import_file(s, "subjects", path)
    assert caught.value.bad_rows == 70
    assert len(caught.value.problems) == 50
    assert str(caught.value.problems[0]) == (
        "line 2, column email: is not an email address (expected name@example.org)")
    assert caught.value.exit_code == ExitCode.BAD_INPUT


def test_unknown_kind(store: Path, tmp_path: Path) -> None:
    with pytest.raises(BadInput, match="unknown import kind"), domain(store) as s:
        import_file(s, "pets", _subjects_file(tmp_path / "x.csv", 1))


def test_items_of_a_subject_who_had_items_are_matched_not_duplicated(store: Path,
                                                                    tmp_path: Path) -> None:
    with domain(store) as s:
        import_file(s, "subjects", _subjects_file(tmp_path / "s.csv", 2))
    first = tmp_path / "first.csv"
    first.write_text("external_id,category,source,purpose,value,processed_at\n"
                     "E0,identity,form,care,Ms P,2020-01-01\n", encoding="utf-8")
    second = tmp_path / "second.csv"
    second.write_text("external_id,category,source,purpose,value,processed_at\n"
                      "E0,identity,form,care,Ms P,2020-01-01\n"
                      "E0,identity,form,care,Ms Q,2020-01-01\n"
                      "E1,identity,form,care,Ms P,2020-01-01\n", encoding="utf-8")
    with domain(store) as s:
        import_file(s, "items", first)
    with domain(store) as s:
        summary = import_file(s, "items", second)
    assert (summary.inserted, summary.unchanged) == (2, 1)
    assert row_count(store, "items") == 3


def test_consent_grants_for_suppressed_emails_are_counted(store: Path, tmp_path: Path) -> None:
    from pigment_cli.records.suppression import email_hmac

    people = tmp_path / "p.csv"
    people.write_text("external_id,name,email\nA,Ann,ann@example.org\nB,Bo,bo@example.org\n",
                      encoding="utf-8")
    consents = tmp_path / "c.csv"
    consents.write_text("external_id,purpose,action,channel,at\n"
                        "A,newsletter,grant,web_form,2024-01-01\n"
                        "B,newsletter,grant,web_form,2024-01-01\n", encoding="utf-8")
    with domain(store) as s:
        import_file(s, "subjects", people)
        s.conn.execute("INSERT INTO suppression (email_hmac, added_at) VALUES (?, ?)",
                       (email_hmac(s.conn, "ANN@example.org"), s.stamp))
    with domain(store) as s:
        summary = import_file(s, "consents", consents)
    assert (summary.inserted, summary.suppressed) == (2, 1)
