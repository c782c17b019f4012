"""The access package through the domain API: temporary exports left by a killed run are cleared."""

from __future__ import annotations

import os
import time

from pigment_cli.rights.package import remove_stale_exports


def test_an_export_clears_temporary_exports_left_by_a_killed_run(tmp_path) -> None:
    old = tmp_path / ".pigment-export-abc123"
    old.mkdir()
    (old / "report.html").write_text("half a report")
    young = tmp_path / ".pigment-export-def456"
    young.mkdir()
    stale = time.time() - 7200
    os.utime(old, (stale, stale))
    assert remove_stale_exports(tmp_path) == 1
    assert not old.exists() and young.exists()  # a young one may be an export in progress
