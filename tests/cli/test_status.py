"""`pigment status`: the one-screen summary, on an empty store and a busy one."""

from __future__ import annotations

from pathlib import Path

from conftest import populate


def test_status_on_an_empty_store(cli, store: Path) -> None:
    view = cli.json("status")
    assert view["subjects"] == 0 and view["requests"]["open"] == 0
    assert view["audit"]["ok"] is True and view["retention"]["last_sweep"] is None
    assert "pigment status" in cli.ok("status").stdout


def test_status_on_a_busy_store(cli, store: Path) -> None:
    people = populate(cli, n_web=2, n_form=3, n_phone=1)
    sid = people[0][0]
    cli.ok("consent", "grant", sid, "newsletter", "--via", "web_form")
    cli.ok("sar", "open", sid, "--received", "2026-09-01")
    cli.ok("hold", "add", people[1][0], "--reason", "debt")
    cli.ok("item", "add", people[2][0], "--category", "cctv", "--source", "cctv",
           "--purpose", "security", "--processed", "2026-11-20")
    cli.ok("retention", "sweep", "--apply")
    view = cli.json("status")
    assert view["subjects"] == 6 and view["holds"] == 1
    assert view["requests"]["overdue"] == 1 and view["requests"]["list"][0]["overdue"] is True
    assert view["consents"]["newsletter"]["granted"] == 1
    assert view["retention"]["next_due"] == "2026-12-20"
    assert view["retention"]["last_sweep"]["status"] == "done"
    table = cli.ok("status").stdout
    assert "OVERDUE" in table
