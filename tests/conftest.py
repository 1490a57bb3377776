"""Shared fixtures: a fresh store per test, and where the public datasets live."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import cxloop

REPO = Path(__file__).resolve().parent.parent
SHARED_DATA = REPO.parent / "shared" / "data"

os.environ.setdefault("HF_HUB_OFFLINE", "1")
# the refresh after an ingest (docs/refresh.md) would compute a brief after every test load;
# tests/test_refresh.py turns it on where it is the subject
os.environ.setdefault("CXLOOP_REFRESH", "off")
# Spark's shuffles on the suite's small stores: two partitions (a shuffle still spreads rows
# over more than one) rather than the default of two per core (docs/settings.md)
os.environ.setdefault("CXLOOP_SPARK_SHUFFLE_PARTITIONS", "2")
# the text models on one thread: the suite runs one xdist worker per core, so a second
# thread would only spin against the other worker (the load average, which the default
# reads, lags by a minute); no result depends on it (tests/test_voice_speed.py)
os.environ.setdefault("CXLOOP_VOICE_THREADS", "1")
if os.environ.get("PYTEST_XDIST_WORKER"):
    # xdist sets COLUMNS=80 in its workers; the CLI's tables and lines would then fold at 80
    # columns there and at 160 in one process (cli/render.make_console): the same in both
    os.environ.pop("COLUMNS", None)


@pytest.fixture
def cx(tmp_path: Path) -> cxloop.Cxloop:
    with cxloop.open(tmp_path / "store") as handle:
        yield handle


def shared_dataset(name: str) -> Path:
    """A public dataset from ../shared/data; skipped only where the folder is absent."""
    path = SHARED_DATA / name
    if not SHARED_DATA.exists():
        pytest.skip(
            f"{SHARED_DATA} is absent (a fresh clone without the shared data); CI always has it"
        )
    assert path.exists(), f"{path} missing although {SHARED_DATA} exists"
    return path


@pytest.fixture(scope="session")
def demo_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The generated Northwind Home company, ingested once per test session (read-only:
    tests that change a store copy it first, see :func:`demo_copy`)."""
    from cxloop.demo import generate_demo

    root = tmp_path_factory.mktemp("demo")
    generate_demo(root / "data", customers=1500, seed=7)
    with cxloop.open(root / "store") as cx:
        cx.ingest(root / "data")
        cx.build_ledger()
        cx.voice().topics()  # embeds the texts once: copies of the store reuse HOME/voice/
    return root / "store"


def demo_copy(demo_store: Path, tmp_path: Path) -> Path:
    import shutil

    shutil.copytree(demo_store, tmp_path / "store")
    return tmp_path / "store"


@pytest.fixture(scope="session")
def olist_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The public Olist export ingested once per test process (read-only: a module copies it
    with :func:`olist_copy`): the 100 k orders are ingested once per worker instead of once
    per module (six modules use it)."""
    data = shared_dataset("olist")
    home = tmp_path_factory.mktemp("olist") / "store"
    with cxloop.open(home) as cx:
        cx.ingest(data, source="olist")
    return home


def olist_copy(olist_store: Path, root: Path) -> Path:
    """A private copy of :func:`olist_store` under ``root``; its home."""
    import shutil

    shutil.copytree(olist_store, root / "store")
    return root / "store"


from tests.engines import _backends, backend, demo_export, reference  # noqa: E402, F401
from tests.pgserver import pg_server, pg_url  # noqa: E402, F401
from tests.scheduling import (  # noqa: E402, F401  (xdist work units and their order)
    pytest_collection_modifyitems,
    pytest_xdist_make_scheduler,
)


@pytest.fixture(scope="session")
def remedies_store(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, float]]:
    """The demo company with a known effect of a goodwill credit on retention injected
    (``remedy_effect``, docs/outcomes-remedies.md); built once, read-only. Returns the root
    (``data/`` and ``store/``) and the generator's truth."""
    from cxloop.demo import generate_demo

    root = tmp_path_factory.mktemp("remedies")
    ds = generate_demo(
        root / "data", customers=2000, seed=7, remedy_effect=0.6, with_bad_rows=False
    )
    with cxloop.open(root / "store") as cx:
        cx.ingest(root / "data")
        cx.build_ledger()
    return root, ds.truth
