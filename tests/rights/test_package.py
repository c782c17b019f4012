"""The access package through the domain API: temporary exports left by a killed run are cleared."""

from __future__ import annotations

import os
import time

from pigment_cli.files import lock_in_use, remove_leftovers


def test_an_export_clears_temporary_exports_left_by_a_killed_run(tmp_path) -> None:
    old = tmp_path / ".pigment-export-abc123"
    old.mkdir()
    (old / "report.html").write_text("half a report")
    young = tmp_path / ".pigment-export-def456"
    young.mkdir()
    running = tmp_path / ".pigment-export-ghi789"
    running.mkdir()
    held = lock_in_use(running)  # an export still being written holds its directory locked
    stale = time.time() - 7200
    for folder in (old, running):
        os.utime(folder, (stale, stale))
    try:
        assert remove_leftovers(tmp_path, ".pigment-export-*") == [old]
    finally:
        os.close(held)
    assert not old.exists() and young.exists() and running.exists()
