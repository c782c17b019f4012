"""Everything collected under tests/reliability/ is marked `reliability`: `make test-fast`
(`pytest -m "not reliability"`) skips it; a plain `pytest` (CI) runs it."""

from __future__ import annotations

import pytest


def pytest_itemcollected(item: pytest.Item) -> None:
    # A hook in this conftest sees only the items collected below this directory.
    item.add_marker(pytest.mark.reliability)
