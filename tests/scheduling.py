"""How `make test` shares the test modules among its pytest-xdist workers
(docs/development.md, "The suite runs on every core").

Two rules on top of xdist's ``--dist loadfile`` (all the tests of a module on one worker):

- Modules that share an expensive per-process resource form one work unit (:data:`GROUPS`),
  so ONE worker builds it once: the engine contract modules (``tests/test_backends*.py``)
  start one Spark JVM and one PostgreSQL server between them, not one per worker that drew
  one of them.
- The longest work units start first (:data:`FIRST`, longest first; the rest follow in
  collection order): a long unit drawn last would leave the other workers idle at the end.

Both are plain data: a new module that starts Spark joins the group by its name; a new module
that takes more than a minute goes into :data:`FIRST`. Should the engines group grow past
half of the suite's time, split it in two (PostgreSQL and Spark modules). Run without xdist
(``-n 0``) only the order changes.
"""

from __future__ import annotations

from fnmatch import fnmatch
from typing import Any

import pytest

#: (module glob, work unit): the modules one worker runs together, in collection order
GROUPS: tuple[tuple[str, str], ...] = (("tests/test_backends*.py", "engines"),)

#: work units (a group's name or a module's path) that start first, longest first
FIRST: tuple[str, ...] = (
    "engines",
    "tests/test_api_schema.py",
    "tests/test_olist_answers.py",
    "tests/test_brief.py",
    "tests/test_voice_cli.py",
    "tests/test_corrections.py",
    "tests/test_dashboard.py",
    "tests/test_openapi.py",
    "tests/test_limits_stateful.py",
    "tests/test_voice_language.py",
    "tests/test_concurrency.py",
)


def unit_of(path: str) -> str:
    """The work unit of a test module (its path relative to the repository)."""
    for pattern, unit in GROUPS:
        if fnmatch(path, pattern):
            return unit
    return path


def _rank(path: str) -> int:
    unit = unit_of(path)
    return FIRST.index(unit) if unit in FIRST else len(FIRST)


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Long units first; within a unit, pytest's own order (a stable sort by module rank)."""
    items.sort(key=lambda item: _rank(item.nodeid.split("::", 1)[0]))


@pytest.hookimpl(optionalhook=True, tryfirst=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """``--dist loadfile``, with :data:`GROUPS` as single work units, in collection order."""
    if config.getvalue("dist") != "loadfile":
        return None
    from xdist.scheduler import LoadFileScheduling

    class GroupedFileScheduling(LoadFileScheduling):  # type: ignore[misc]
        def _split_scope(self, nodeid: str) -> str:
            return unit_of(super()._split_scope(nodeid))

    # xdist would otherwise order the units by their number of tests, not their length
    config.option.loadscopereorder = False
    return GroupedFileScheduling(config, log)
