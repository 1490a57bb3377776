"""Churn risk over REST: the saved scoring, scoring again (leads only), the customers behind
the figure (paged) and the risk distribution; the dashboard page in a browser is in
tests/test_dashboard.py."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from cxloop.api import create_app
from cxloop.services.access.permissions import create_key
from cxloop.services.recovery.policy import load_policy
from cxloop.settings import Settings
from cxloop.workspace.workspace import Workspace


@pytest.fixture(scope="module")
def api(demo_store: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple]:
    home = tmp_path_factory.mktemp("api-health") / "store"
    shutil.copytree(demo_store, home)
    ws = Workspace.open(home)
    try:
        keys = {r: create_key(ws, f"{r}-h", r, load_policy(None))[0] for r in ("viewer", "lead")}
    finally:
        ws.close()
    settings = Settings.from_env({}, home=str(home), health_horizon="45d")
    with TestClient(create_app(settings)) as client:
        yield client, keys


def test_health_over_rest(api: tuple) -> None:
    client, keys = api
    viewer, lead = ({"X-API-Key": keys[r]} for r in ("viewer", "lead"))
    r = client.get("/api/v1/outcomes/health", headers=viewer)
    assert r.status_code == 404 and "cxloop outcomes health" in r.json()["error"]["message"]
    assert client.post("/api/v1/outcomes/health", headers=viewer).status_code == 403
    made = client.post("/api/v1/outcomes/health", headers=lead)
    assert made.status_code == 200, made.text
    summary = client.get("/api/v1/outcomes/health", headers=viewer).json()
    assert summary == made.json() | {"stale": False}
    assert summary["horizon_days"] == 45 and 0.5 < summary["validation"]["roc_auc"] < 1
    items, offset = [], 0
    while offset is not None:
        page = client.get(
            f"/api/v1/outcomes/health/customers?limit=1000&offset={offset}", headers=viewer
        ).json()
        items += page["items"]
        offset = page["next_offset"]
    assert len(items) == summary["customers"] == page["total"]
    total = sum(i["revenue_at_risk"] for i in items)
    assert total == pytest.approx(summary["revenue_at_risk"], abs=1)
    risky = client.get("/api/v1/outcomes/health/customers?min_risk=0.5", headers=viewer).json()
    assert risky["total"] == sum(i["risk"] >= 0.5 for i in items)
    bands = client.get("/api/v1/outcomes/health/distribution", headers=viewer).json()
    assert len(bands) == 10 and sum(b["customers"] for b in bands) == len(items)
    assert sum(b["revenue_at_risk"] for b in bands) == pytest.approx(total, abs=1)
    assert (
        client.get("/api/v1/outcomes/health/customers?min_risk=2", headers=viewer).status_code
        == 422
    )
