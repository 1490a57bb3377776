"""The outcomes endpoints: the library's figures, the drill-downs total them, keys needed."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

import cxloop
from cxloop.api import create_app
from tests.test_api import Api, make_keys


@pytest.fixture(scope="module")
def api(demo_store: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    home = tmp_path_factory.mktemp("api-outcomes") / "store"
    shutil.copytree(demo_store, home)
    keys = make_keys(home)
    with TestClient(create_app(home=home)) as client:
        yield Api(client, home, keys)


def test_retention_and_lifecycle_endpoints(api: Api) -> None:
    assert api.client.get("/api/v1/outcomes/retention").status_code == 401
    got = api.get("/api/v1/outcomes/retention", "viewer", params={"by": "promise"})
    assert got.status_code == 200, got.text
    body = got.json()
    with cxloop.open(api.home) as cx:
        want = cx.retention(by="promise")
    assert [r["customers"] for r in body["rows"]] == want.customers.tolist()
    row = next(r for r in body["rows"] if r["segment"] == "broken" and r["offset"] == 1)
    listed = api.get(
        "/api/v1/outcomes/retention/customers",
        "viewer",
        params={"offset": 1, "by": "promise", "segment": "broken"},
    ).json()
    assert listed["total"] == row["customers"]
    life = api.get("/api/v1/outcomes/lifecycle", "viewer").json()["rows"][2]
    who = api.get(
        "/api/v1/outcomes/lifecycle/customers",
        "viewer",
        params={"at": life["period"], "state": "resurrecting"},
    ).json()
    assert who["total"] == life["resurrecting"] > 0
    bad = api.get("/api/v1/outcomes/lifecycle", "viewer", params={"period": "year"})
    assert bad.status_code in (400, 422)


def test_repeat_and_promise_value_endpoints(api: Api) -> None:
    rep = api.get("/api/v1/outcomes/repeat", "viewer", params={"by": "region"}).json()
    assert sum(r["customers"] for r in rep["rows"]) == 1500
    pv = api.get("/api/v1/outcomes/promise-value", "viewer").json()
    row = next(r for r in pv["rows"] if r["outcome"] == "repeat purchase within 90d")
    assert row["low"] <= row["effect"] <= row["high"] < 0
    units = api.get(
        "/api/v1/outcomes/promise-value/customers", "viewer", params={"window": "90d"}
    ).json()
    assert units["total"] == row["n"]
