"""The OpenAPI spec documents every answer: each endpoint declares a response model, and
the real answers (one call per endpoint on the demo company, tests/api_calls.py) carry
exactly the documented keys, of the documented types, and every documented field."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

import cxloop
from cxloop.api import create_app
from cxloop.settings import Settings
from tests.api_calls import every_call
from tests.test_api import make_keys
from tests.test_notify import SmtpServer, smtp  # noqa: F401 - the fixture

Schema = dict[str, Any]
#: models the demo company's answers leave empty (their lists are): documented, not seen
UNSEEN = {
    "LeftOut": "a brief's incidents too old to count (the demo's are all recent enough)",
    "SendError": "a send through a channel that fails (tests/test_outreach.py has them)",
}
PY_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "object": (dict,),
    "array": (list,),
}


def answer_schema(op: Schema) -> Schema | None:
    """The JSON schema of an operation's success answer."""
    for status, response in op["responses"].items():
        if status.startswith("2"):
            return response.get("content", {}).get("application/json", {}).get("schema")  # type: ignore[no-any-return]
    return None


class Spec:
    def __init__(self, spec: Schema) -> None:
        self.schemas: dict[str, Schema] = spec["components"]["schemas"]
        self.seen: dict[str, set[str]] = {}  # model -> keys seen in real answers
        self.problems: list[str] = []

    def resolve(self, schema: Schema) -> tuple[str | None, Schema]:
        if "$ref" in schema:
            name = schema["$ref"].rsplit("/", 1)[-1]
            return name, self.schemas[name]
        return None, schema

    def documented(self, schema: Schema) -> bool:
        """An array of, or an object with, declared properties (not an 'any object')."""
        _, s = self.resolve(schema)
        if s.get("type") == "array":
            return self.documented(s.get("items", {}))
        props = s.get("properties", {})
        if not props:
            return False
        return "items" not in props or self.documented(props["items"])

    def walk(self, schema: Schema, value: Any, where: str) -> None:
        name, s = self.resolve(schema)
        if "anyOf" in s:
            kinds = [self.resolve(o)[1].get("type") for o in s["anyOf"]]
            if value is None and "null" in kinds:
                return
            fits = [o for o in s["anyOf"] if self._fits(self.resolve(o)[1], value)]
            if not fits:
                self.problems.append(f"{where}: {value!r:.60} fits none of {kinds}")
                return
            self.walk(fits[0], value, where)
            return
        if not self._fits(s, value):
            self.problems.append(f"{where}: {value!r:.60} is not {s.get('type')}")
            return
        if isinstance(value, list):
            for i, item in enumerate(value):
                self.walk(s.get("items", {}), item, f"{where}[{i}]")
        elif isinstance(value, dict) and "properties" in s:
            self._object(name, s, value, where)

    def _object(self, name: str | None, s: Schema, value: dict[str, Any], where: str) -> None:
        props = s["properties"]
        extra = sorted(set(value) - set(props))
        if s.get("additionalProperties") is False and extra:
            self.problems.append(f"{where} ({name}): undocumented {extra}")
        if name is not None:
            self.seen.setdefault(name, set()).update(value)
        for key, item in value.items():
            if key in props:
                self.walk(props[key], item, f"{where}.{key}")

    @staticmethod
    def _fits(s: Schema, value: Any) -> bool:
        kind = s.get("type")
        if kind is None:
            return True
        if kind == "null":
            return value is None
        if isinstance(value, bool) and kind != "boolean":
            return False
        return isinstance(value, PY_TYPES[kind])

    def reachable(self, schema: Schema, found: set[str]) -> set[str]:
        """The named models an answer's schema refers to, however deep."""
        if "$ref" in schema:
            name = schema["$ref"].rsplit("/", 1)[-1]
            if name in found:
                return found
            found.add(name)
            schema = self.schemas[name]
        for sub in (*schema.get("properties", {}).values(), *schema.get("anyOf", [])):
            self.reachable(sub, found)
        if "items" in schema:
            self.reachable(schema["items"], found)
        return found


def operations(spec: Schema) -> Iterator[tuple[str, str, Schema]]:
    for path, item in spec["paths"].items():
        for method, op in item.items():
            yield method.upper(), path, op


def test_every_endpoint_documents_its_answer(tmp_path: Path) -> None:
    spec = create_app(home=tmp_path / "store").openapi()
    doc = Spec(spec)
    bare = []
    for method, path, op in operations(spec):
        schema = answer_schema(op)
        if schema is None or not doc.documented(schema):
            bare.append(f"{method} {path}")
    assert not bare, f"endpoints without a response model (give them one): {bare}"


@pytest.fixture(scope="module")
def answers(
    demo_store: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Schema, dict[tuple[str, str], Any]]]:
    from tests.test_notify import Mailbox, free_port, start_smtp

    home = tmp_path_factory.mktemp("openapi") / "store"
    shutil.copytree(demo_store, home)
    with cxloop.open(home) as cx:
        cx.sync_cases()
        cx.detect_incidents()
    keys = make_keys(home)
    server = SmtpServer(free_port(), Mailbox())
    controller = start_smtp(server.port, server.mailbox)
    try:
        settings = Settings.from_env(
            {},
            home=home,
            smtp_port=str(server.port),
            health_horizon="45d",
            health_call_risk="0.01",
        )
        with TestClient(create_app(settings)) as client:
            yield client.get("/openapi.json").json(), every_call(client, keys)
    finally:
        controller.stop()


@pytest.mark.slow
def test_real_answers_are_what_the_spec_says(
    answers: tuple[Schema, dict[tuple[str, str], Any]],
) -> None:
    spec, seen = answers
    doc = Spec(spec)
    ops = {(m, p): op for m, p, op in operations(spec)}
    assert set(seen) == set(ops), f"not called: {sorted(set(ops) - set(seen))}"
    models: set[str] = set()
    for (method, path), value in seen.items():
        schema = answer_schema(ops[(method, path)])
        assert schema is not None
        doc.walk(schema, value, f"{method} {path}")
        models |= doc.reachable(schema, set())
    assert not doc.problems, "\n".join(doc.problems)
    for name in sorted(models):
        if name in UNSEEN:
            continue
        assert name in doc.seen, f"no real answer had a {name}"
        required = set(doc.schemas[name].get("required", []))
        assert required <= doc.seen[name], (name, required - doc.seen[name])
