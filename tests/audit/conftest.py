import contextlib
from datetime import UTC, datetime
from unittest import mock

import pytest


@pytest.fixture
def frozen():
    """`with frozen(when):` — events written inside get `when` as their timestamp."""

    @contextlib.contextmanager
    def freeze(when: datetime):
        with mock.patch("audit.services.timezone.now", return_value=when):
            yield

    return freeze


@pytest.fixture
def jan():
    """`jan(day, hour)` → an aware UTC instant in January 2026."""
    return lambda day, hour=12, minute=0: datetime(2026, 1, day, hour, minute, tzinfo=UTC)
