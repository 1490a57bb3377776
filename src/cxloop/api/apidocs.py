"""``/docs``: the API reference as a server-rendered page, from the OpenAPI spec.

FastAPI's interactive docs load Swagger UI from a CDN, which a self-hosted install
(or one without internet) cannot reach; this page needs nothing but the app. The spec
itself stays at ``/openapi.json`` for tools (code generators, schemathesis, Postman).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from cxloop.api.pages import render

router = APIRouter(include_in_schema=False)
METHODS = ("get", "post", "put", "patch", "delete")


def _type(schema: dict[str, Any]) -> str:
    """A short, readable type for a JSON schema."""
    if "$ref" in schema:
        return str(schema["$ref"]).rsplit("/", 1)[-1]
    if "enum" in schema:
        return " | ".join(str(v) for v in schema["enum"])
    if "anyOf" in schema:
        return " | ".join(_type(s) for s in schema["anyOf"])
    kind = str(schema.get("type", "any"))
    if kind == "array":
        return f"list of {_type(schema.get('items', {}))}"
    bounds = [
        f"{word} {schema[key]}"
        for key, word in (("minimum", "≥"), ("maximum", "≤"), ("exclusiveMinimum", ">"))
        if key in schema
    ]
    return kind + (f" ({', '.join(bounds)})" if bounds else "")


def _fields(spec: dict[str, Any], name: str) -> list[dict[str, str]]:
    schema = spec.get("components", {}).get("schemas", {}).get(name, {})
    required = set(schema.get("required", []))
    return [
        {
            "name": field,
            "type": _type(s),
            "required": "yes" if field in required else "",
            "about": str(s.get("description", "")),
        }
        for field, s in schema.get("properties", {}).items()
    ]


def _answer(spec: dict[str, Any], op: dict[str, Any]) -> dict[str, Any]:
    """The success answer's model, the item model of a page or a list, and its fields."""
    for status, response in sorted(op.get("responses", {}).items()):
        if not status.startswith("2"):
            continue
        schema = response.get("content", {}).get("application/json", {}).get("schema", {})
        name, item = _type(schema), ""
        model = schema.get("items", {}) if schema.get("type") == "array" else schema
        found = _type(model)
        props = spec.get("components", {}).get("schemas", {}).get(found, {}).get("properties", {})
        if "items" in props and "next_offset" in props:
            item = _type(props["items"].get("items", {}))
        return {"answer": name, "answer_item": item, "answer_fields": _fields(spec, item or found)}
    return {"answer": "", "answer_item": "", "answer_fields": []}


def operations(spec: dict[str, Any]) -> list[dict[str, Any]]:
    """Every operation of the spec, grouped by its first tag, in the spec's order."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for path, item in spec["paths"].items():
        for method in METHODS:
            op = item.get(method)
            if op is None:
                continue
            body = op.get("requestBody", {}).get("content", {}).get("application/json", {})
            ref = _type(body.get("schema", {})) if body else ""
            groups.setdefault((op.get("tags") or ["other"])[0], []).append(
                {
                    "method": method.upper(),
                    "path": path,
                    "anchor": f"{method}-{path}".replace("/", "-").strip("-"),
                    "about": str(op.get("description") or op.get("summary") or ""),
                    "params": [
                        {
                            "name": p["name"],
                            "where": p["in"],
                            "type": _type(p.get("schema", {})),
                            "required": "yes" if p.get("required") else "",
                            "about": str(p.get("description", "")),
                        }
                        for p in op.get("parameters", [])
                    ],
                    "body": ref,
                    "body_fields": _fields(spec, ref) if ref else [],
                    "responses": sorted(op.get("responses", {})),
                    "secured": bool(op.get("security")),
                }
                | _answer(spec, op)
            )
    return [{"tag": tag, "operations": ops} for tag, ops in groups.items()]


@router.get("/docs")
def docs(request: Request) -> HTMLResponse:
    spec = request.app.openapi()
    return render(
        request,
        "apidocs.html",
        None,
        title="API reference",
        info=spec["info"],
        groups=operations(spec),
    )
