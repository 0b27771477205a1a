"""pytest entry point: options and markers. Glue only; the logic lives in the modules it calls."""

from __future__ import annotations

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("sdconform", "system-design conformance runs")
    group.addoption(
        "--sdconform",
        action="store_true",
        default=False,
        help="run the sdconform suites against real backends (they skip without it)",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "claim(id): the catalogue claim a suite test checks")
    config.addinivalue_line("markers", "backend(name): the backend a suite test needs")
