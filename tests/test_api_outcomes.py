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
        params={"periods_after": 1, "by": "promise", "segment": "broken"},
    ).json()
    assert listed["total"] == row["customers"]
    # `offset` pages (it once was also the retention offset: paging changed the list)
    pages = [
        api.get(
            "/api/v1/outcomes/retention/customers",
            "viewer",
            params={
                "periods_after": 1,
                "by": "promise",
                "segment": "broken",
                "offset": o,
                "limit": 3,
            },
        ).json()
        for o in (0, 3)
    ]
    assert [p["total"] for p in pages] == [row["customers"]] * 2
    assert pages[0]["next_offset"] == 3 and pages[1]["offset"] == 3
    ids = [i["customer_id"] for p in pages for i in p["items"]]
    assert ids == [i["customer_id"] for i in listed["items"][:6]]
    spec = api.client.get("/openapi.json").json()
    names = [
        q["name"]
        for q in spec["paths"]["/api/v1/outcomes/retention/customers"]["get"]["parameters"]
    ]
    assert len(names) == len(set(names)) and {"offset", "periods_after"} <= set(names)
    life = api.get("/api/v1/outcomes/lifecycle", "viewer").json()["rows"][2]
    who = api.get(
        "/api/v1/outcomes/lifecycle/customers",
        "viewer",
        params={"at": life["period"], "state": "resurrecting"},
    ).json()
    assert who["total"] == life["resurrecting"] > 0
    bad = api.get("/api/v1/outcomes/lifecycle", "viewer", params={"period": "year"})
    assert bad.status_code in (400, 422)
    for at in ("2026-13", "2026-00", "0000-00", "2026-1", "2026-02-30", "20261-01"):
        no = api.get(
            "/api/v1/outcomes/lifecycle/customers", "viewer", params={"at": at, "state": "new"}
        )
        assert no.status_code == 400, (at, no.text)
        assert "expected YYYY-MM" in no.json()["error"]["message"]


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
