"""Schemathesis against the OpenAPI spec: generated requests (valid and not) to every
operation, with keys of every role; the API must never answer with a 5xx."""

from __future__ import annotations

import shutil
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings

import cxloop
from cxloop.api import create_app
from tests.test_api import make_keys


@pytest.fixture(scope="module")
def app(demo_store: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[FastAPI]:
    home = tmp_path_factory.mktemp("schema") / "store"
    shutil.copytree(demo_store, home)
    with cxloop.open(home) as cx:
        cx.sync_cases()
    app = create_app(home=home)
    app.state.keys = make_keys(home)
    with TestClient(app) as client:  # runs the lifespan (closes the workspaces at the end)
        warm = {"Authorization": f"Bearer {app.state.keys['viewer']}"}
        assert client.get("/api/v1/brief", headers=warm).status_code == 200  # embeds the texts
        yield app


SETTINGS = settings(
    max_examples=10,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
    database=None,
)


def fuzz(app: FastAPI, role: str) -> tuple[list[str], Counter[int]]:
    """Every operation of the spec, with generated requests; returns the failures and the
    count of answers per status."""
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    headers = {"Authorization": f"Bearer {app.state.keys[role]}"}
    failures: list[str] = []
    statuses: Counter[int] = Counter()
    operations = 0
    for found in schema.get_all_operations():
        operation = found.ok()
        operations += 1

        @SETTINGS
        @given(case=operation.as_strategy())
        def run(case: schemathesis.Case) -> None:
            response = case.call(headers=headers, timeout=300)
            statuses[response.status_code] += 1
            where = f"{case.method} {case.formatted_path}"
            if response.status_code >= 500:
                failures.append(f"{where} -> {response.status_code}: {response.text[:300]}")
            elif response.status_code >= 400:
                body = response.json()
                if set(body) != {"error"} or not {"code", "message"} <= set(body["error"]):
                    failures.append(f"{where} -> {response.status_code}: not the error shape")

        run()
    assert operations >= 35
    return failures, statuses


@pytest.mark.slow
@pytest.mark.parametrize("role", ["admin", "viewer"])
def test_no_server_errors(app: FastAPI, role: str) -> None:
    failures, statuses = fuzz(app, role)
    assert not failures, "\n".join(failures[:20])
    ok = sum(n for status, n in statuses.items() if status < 300)
    assert ok >= 50, statuses  # the generated requests reach the code, not just validation
    print(role, dict(sorted(statuses.items())))
