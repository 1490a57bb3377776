"""Typed results, one definition each: the report routes declare the library's own result
types (cxloop.results) as their response models, and on the demo company the library's
result and the API's answer are the same data."""

from __future__ import annotations

import inspect
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from pydantic import BaseModel

import cxloop
from cxloop import results
from cxloop.api import (
    create_app,
    models_brief,
    models_cases,
    models_insight,
    routes_effort,
    routes_funnels,
    routes_health,
    routes_insight,
    routes_journeys,
    routes_outcomes,
    routes_remedies,
)
from cxloop.api import models as api_models
from cxloop.results import drill, effort, journeys, outcomes, outreach, voice
from tests.test_api import Api, make_keys

RESULT_MODULES = (drill, effort, journeys, outcomes, outreach, voice)
REPORT_ROUTES = (
    routes_effort,
    routes_funnels,
    routes_health,
    routes_journeys,
    routes_outcomes,
    routes_remedies,
)
VOICE_AND_OUTREACH = ("/voice/", "/incidents", "/outreach")


def _models(hint: Any) -> set[type[BaseModel]]:
    """The pydantic classes a response model names (a list's item, a page's item)."""
    found: set[type[BaseModel]] = set()
    stack = [hint]
    while stack:
        x = stack.pop()
        stack.extend(getattr(x, "__args__", ()))
        if isinstance(x, type) and issubclass(x, BaseModel):
            meta = getattr(x, "__pydantic_generic_metadata__", None) or {}
            if meta.get("origin") is not None:  # PageOut[Item]: the item is what counts
                stack.extend(meta.get("args", ()))
            else:
                found.add(x)
    return found


def _routes() -> list[APIRoute]:
    found = [r for m in REPORT_ROUTES for r in m.router.routes if isinstance(r, APIRoute)]
    found += [
        r
        for r in routes_insight.router.routes
        if isinstance(r, APIRoute) and any(p in r.path for p in VOICE_AND_OUTREACH)
    ]
    return found


def test_report_routes_answer_with_the_library_types() -> None:
    routes = _routes()
    assert len(routes) >= 35  # 38 when written
    for route in routes:
        shown = _models(route.response_model) - {api_models.PageOut}
        assert shown, f"{route.path}: no response model"
        for model in shown:
            assert model.__module__.startswith("cxloop.results."), (route.path, model)


def test_one_definition_per_result_type() -> None:
    defined = {
        name
        for m in RESULT_MODULES
        for name, c in inspect.getmembers(m, inspect.isclass)
        if c.__module__ == m.__name__
    }
    assert {"PromiseValue", "FunnelReport", "HealthReport", "Qini", "SendReport"} <= defined
    for m in (api_models, models_brief, models_cases, models_insight, *REPORT_ROUTES):
        mirrors = {
            name
            for name, c in inspect.getmembers(m, inspect.isclass)
            if c.__module__ == m.__name__ and issubclass(c, BaseModel)
        }
        assert not mirrors & defined, f"{m.__name__} defines again: {mirrors & defined}"
    assert results.base.Out is api_models.Out


@pytest.fixture(scope="module")
def api(demo_store: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    home = tmp_path_factory.mktemp("api-results") / "store"
    shutil.copytree(demo_store, home)
    keys = make_keys(home)
    with TestClient(create_app(home=home)) as client:
        yield Api(client, home, keys)


def _same(a: object, b: object) -> bool:
    """Equal, floats to 1e-9 relative: the cross-fitted models sum in threads (OpenMP), so
    two fits on one store may differ in the last bits; every key, count and text exactly."""
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float) and isinstance(b, float):
        return a == pytest.approx(b, rel=1e-9, abs=1e-12)
    return a == b


def test_the_library_result_is_the_api_answer(api: Api) -> None:
    with cxloop.open(api.home) as cx:
        value = cx.promise_value("broken")
        counted = cx.funnel()
        funnel = counted.report()
        remedies = cx.remedies_report()
        kind, remedy = remedies.rows[0].kind, remedies.rows[0].remedy
        qini = cx.remedies_qini(kind, remedy)
        uplift = cx.remedies_uplift()
    assert isinstance(value, cxloop.PromiseValue) and isinstance(funnel, cxloop.FunnelReport)
    pairs = [
        (value, "/api/v1/outcomes/promise-value", {}),
        (funnel, "/api/v1/funnel", {}),
        (remedies, "/api/v1/outcomes/remedies", {}),
        (qini, "/api/v1/outcomes/remedies/qini", {"kind": kind, "remedy": remedy}),
    ]
    for result, path, params in pairs:
        got = api.get(path, "admin", params=params)
        assert got.status_code == 200, got.text
        assert _same(got.json(), result.model_dump(mode="json")), path
    # the typed report holds the same figures as the library's DataFrame
    assert [r.n_treated for r in remedies.rows] == [
        None if n != n else int(n) for n in uplift.n_treated.tolist()
    ]
    assert [s.customers for s in funnel.steps] == counted.steps.customers.tolist()
