"""A mapping file (TOML) parsed and checked into plain dataclasses.

Every mistake raises :class:`MappingFileError` naming the file, the key (a dotted
path such as ``events[2].ts.format``) and the problem. docs/mappings.md is the
reference for the format.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

from cxloop.ingest.mapfile.model import (
    AGGREGATES,
    CANONICAL,
    CONDITION_OPS,
    FORMATS,
    PLACEHOLDER,
    REQUIRED,
    TYPES,
    VALUE_KEYS,
    Aggregate,
    Condition,
    CsvDialect,
    EventSpec,
    InputSpec,
    Lookup,
    MappingFileError,
    MapSpec,
    Requirement,
    Value,
)
from cxloop.ingest.mapfile.options import ValueParser

__all__ = [
    "Aggregate",
    "Condition",
    "CsvDialect",
    "EventSpec",
    "InputSpec",
    "Lookup",
    "MapSpec",
    "MappingFileError",
    "Requirement",
    "Value",
    "load_spec",
    "parse_spec",
]


def load_spec(path: Path, name: str | None = None) -> MapSpec:
    file = str(path)
    if not path.is_file():
        raise MappingFileError(file, "", "no such mapping file")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise MappingFileError(file, "", "not UTF-8 text") from None
    except tomllib.TOMLDecodeError as exc:
        raise MappingFileError(file, "", f"not valid TOML: {exc}") from None
    return parse_spec(data, file, name or path.stem)


def parse_spec(data: dict[str, Any], file: str, default_name: str) -> MapSpec:
    p = _Parser(file)
    p.keys(
        data,
        "",
        {"name", "description", "input", "inputs", "lookup", "events", "params", "unmatched"},
    )
    name = p.text(data.get("name", default_name), "name")
    description = p.text(data.get("description", ""), "description")
    inputs = p.inputs(data)
    lookups = {
        k: p.lookup(k, v, inputs) for k, v in p.table(data.get("lookup", {}), "lookup").items()
    }
    events = data.get("events")
    if not isinstance(events, list) or not events:
        raise MappingFileError(file, "events", "missing: declare at least one [[events]] table")
    specs = tuple(p.event(i, e, inputs, lookups) for i, e in enumerate(events))
    params: dict[str, str | None] = {}
    for k, v in p.table(data.get("params", {}), "params").items():
        params[k] = None if v == "" else p.text(v, f"params.{k}")
    unmatched = p.text(data.get("unmatched", "quarantine"), "unmatched")
    if unmatched not in ("quarantine", "skip"):
        raise MappingFileError(file, "unmatched", f"{unmatched!r} is not quarantine or skip")
    return MapSpec(file, name, description, inputs, lookups, specs, params, unmatched, data)


class _Parser(ValueParser):
    def keys(self, table: dict[str, Any], key: str, allowed: set[str]) -> None:
        for k in table:
            if k not in allowed:
                where = f"{key}.{k}" if key else k
                raise self.fail(
                    where, f"unknown key (expected one of: {', '.join(sorted(allowed))})"
                )

    def inputs(self, data: dict[str, Any]) -> dict[str, InputSpec]:
        if "input" in data and "inputs" in data:
            raise self.fail(
                "inputs", "declare either [input] (one file) or [inputs.NAME], not both"
            )
        if "inputs" in data:
            tables = self.table(data["inputs"], "inputs")
            if not tables:
                raise self.fail("inputs", "declare at least one [inputs.NAME] table")
            return {k: self.input(k, v, f"inputs.{k}") for k, v in tables.items()}
        return {"input": self.input("input", data.get("input", {}), "input")}

    def input(self, name: str, value: object, key: str) -> InputSpec:
        t = self.table(value, key)
        csv_keys = {"delimiter", "quote", "escape", "encoding", "header", "skip"}
        self.keys(t, key, {"file", "format", "records", "optional"} | csv_keys)
        fmt = t.get("format")
        if fmt is not None and fmt not in FORMATS:
            raise self.fail(f"{key}.format", f"{fmt!r} is not one of {', '.join(FORMATS)}")
        dialect = CsvDialect()
        for k in ("delimiter", "quote", "escape"):
            if k in t:
                v = self.text(t[k], f"{key}.{k}")
                if (
                    len(v) != 1
                    and not (k == "delimiter" and v == "\\t")
                    and not (k != "delimiter" and v == "")
                ):
                    raise self.fail(f"{key}.{k}", f"expected one character, got {v!r}")
                dialect = _replace(dialect, k, "\t" if v == "\\t" else v)
        if "encoding" in t:
            enc = self.text(t["encoding"], f"{key}.encoding").lower().replace("_", "-")
            if enc not in ("utf-8", "utf-16", "latin-1", "iso-8859-1", "cp1252"):
                raise self.fail(
                    f"{key}.encoding", f"{enc!r} is not one of utf-8, utf-16, latin-1, cp1252"
                )
            dialect = _replace(dialect, "encoding", enc)
        if "header" in t:
            dialect = _replace(dialect, "header", self.flag(t["header"], f"{key}.header"))
        if "skip" in t:
            skip = t["skip"]
            if isinstance(skip, bool) or not isinstance(skip, int) or skip < 0:
                raise self.fail(f"{key}.skip", f"expected a whole number >= 0, got {skip!r}")
            dialect = _replace(dialect, "skip", skip)
        file = self.text(t["file"], f"{key}.file") if "file" in t else None
        records = self.text(t["records"], f"{key}.records") if "records" in t else None
        optional = self.flag(t.get("optional", False), f"{key}.optional")
        return InputSpec(name, file, fmt, records, dialect, optional)

    def lookup(self, name: str, value: object, inputs: dict[str, InputSpec]) -> Lookup:
        key = f"lookup.{name}"
        t = self.table(value, key)
        self.keys(t, key, {"input", "key", "match", "required", "loaded_only", "aggregate"})
        for k in ("input", "key", "match"):
            if k not in t:
                raise self.fail(f"{key}.{k}", "missing")
        src = self.text(t["input"], f"{key}.input")
        if src not in inputs:
            raise self.fail(
                f"{key}.input", f"no input named {src!r} (declared: {', '.join(inputs)})"
            )
        return Lookup(
            name,
            src,
            self.text(t["key"], f"{key}.key"),
            self.text(t["match"], f"{key}.match"),
            self.flag(t.get("required", False), f"{key}.required"),
            self.flag(t.get("loaded_only", False), f"{key}.loaded_only"),
            {
                k: self.aggregate(v, f"{key}.aggregate.{k}")
                for k, v in self.table(t.get("aggregate", {}), f"{key}.aggregate").items()
            },
        )

    def aggregate(self, value: object, key: str) -> Aggregate:
        t = self.table(value, key)
        self.keys(t, key, {"fn", "of"})
        fn = self.text(t.get("fn", ""), f"{key}.fn")
        if fn not in AGGREGATES:
            raise self.fail(f"{key}.fn", f"{fn!r} is not one of {', '.join(AGGREGATES)}")
        raw = t.get("of", [])
        if fn != "count" and raw in ([], None):
            raise self.fail(f"{key}.of", "missing: the value(s) to aggregate")
        items = raw if isinstance(raw, list) else [raw]
        if len(items) > 1 and fn != "sum":
            raise self.fail(f"{key}.of", "several values only with fn = sum (added per row)")
        of = tuple(self.value(v, f"{key}.of", "attr") for v in items)
        return Aggregate(fn, of)

    def requirement(self, value: object, key: str) -> Requirement:
        t = self.table(value, key)
        self.keys(t, key, {"column", "reason", "when", *CONDITION_OPS})
        cond = self.condition({k: v for k, v in t.items() if k not in ("reason", "when")}, key)
        when = self.condition(t["when"], f"{key}.when") if "when" in t else None
        reason = self.text(t.get("reason", f"{cond.ref} fails {cond.op}"), f"{key}.reason")
        return Requirement(cond, when, reason)

    def event(
        self, i: int, value: object, inputs: dict[str, InputSpec], lookups: dict[str, Lookup]
    ) -> EventSpec:
        key = f"events[{i}]"
        t = self.table(value, key)
        allowed = {"name", "input", "each", "as", "when", "attrs", "attrs_rest", "require"}
        allowed |= set(CANONICAL)
        self.keys(t, key, allowed)
        for req in REQUIRED:
            if req not in t:
                raise self.fail(
                    f"{key}.{req}", "missing (every event needs customer_id, event_type, ts)"
                )
        src = self.text(t.get("input", next(iter(inputs))), f"{key}.input")
        if src not in inputs:
            raise self.fail(
                f"{key}.input", f"no input named {src!r} (declared: {', '.join(inputs)})"
            )
        fields = {c: self.value(t[c], f"{key}.{c}", c) for c in CANONICAL if c in t}
        attrs_t = self.table(t.get("attrs", {}), f"{key}.attrs")
        attrs = {k: self.value(v, f"{key}.attrs.{k}", "attr") for k, v in attrs_t.items()}
        when_v = t.get("when", [])
        conds = when_v if isinstance(when_v, list) else [when_v]
        when = tuple(self.condition(c, f"{key}.when") for c in conds)
        alias = self.text(t.get("as", "item"), f"{key}.as")
        if alias in inputs or alias in lookups:
            raise self.fail(f"{key}.as", f"{alias!r} is already an input or lookup name")
        return EventSpec(
            self.text(t.get("name", f"event{i + 1}"), f"{key}.name"),
            key,
            src,
            self.text(t["each"], f"{key}.each") if "each" in t else None,
            alias,
            when,
            fields,
            attrs,
            self.flag(t.get("attrs_rest", False), f"{key}.attrs_rest"),
            tuple(
                self.requirement(r, f"{key}.require[{j}]")
                for j, r in enumerate(_as_list(t.get("require", [])))
            ),
        )

    def condition(self, value: object, key: str) -> Condition:
        t = self.table(value, key)
        self.keys(t, key, {"column", *CONDITION_OPS})
        if "column" not in t:
            raise self.fail(f"{key}.column", "missing: the column the condition tests")
        ops = [o for o in CONDITION_OPS if o in t]
        if len(ops) != 1:
            raise self.fail(key, f"expected exactly one of {', '.join(CONDITION_OPS)}")
        op, arg = ops[0], t[ops[0]]
        if op == "present":
            values: tuple[str, ...] = ("true" if self.flag(arg, f"{key}.present") else "false",)
        elif op in ("in", "not_in"):
            if not isinstance(arg, list) or not arg:
                raise self.fail(f"{key}.{op}", "expected a non-empty list")
            values = tuple(self.text(a, f"{key}.{op}") for a in arg)
        else:
            values = (self.text(arg, f"{key}.{op}"),)
        return Condition(self.text(t["column"], f"{key}.column"), op, values)

    def value(self, raw: object, key: str, target: str) -> Value:
        if isinstance(raw, str):
            return self._template_or_const(raw, key)
        if isinstance(raw, bool | int | float):
            return Value(key, const=str(raw).lower() if isinstance(raw, bool) else str(raw))
        t = self.table(raw, key)
        self.keys(t, key, VALUE_KEYS)
        sources = [k for k in ("column", "template", "value", "first_of", "latest_of") if k in t]
        if len(sources) != 1:
            raise self.fail(
                key, "expected exactly one of column, template, value, first_of, latest_of"
            )
        base = self._source(t, sources[0], key)
        opts: dict[str, Any] = {}
        if "map" in t:
            m = self.table(t["map"], f"{key}.map")
            opts["map"] = {str(k): self.text(v, f"{key}.map.{k}") for k, v in m.items()}
        if "default" in t:
            opts["default"] = self.text(t["default"], f"{key}.default")
        for k in ("plus",):
            if k in t:
                opts[k] = self.text(t[k], f"{key}.{k}")
        opts.update(self.time_opts(t, key, target))
        if "type" in t:
            typ = self.text(t["type"], f"{key}.type")
            if typ not in TYPES:
                raise self.fail(f"{key}.type", f"{typ!r} is not one of {', '.join(TYPES)}")
            opts["type"] = typ
        opts.update(self.number_opts(t, key))
        for k in ("lower", "upper"):
            if k in t:
                opts[k] = self.flag(t[k], f"{key}.{k}")
        if "pattern" in t:
            pattern = self.text(t["pattern"], f"{key}.pattern")
            try:
                groups = re.compile(pattern).groups
            except re.error as exc:
                raise self.fail(f"{key}.pattern", f"not a regular expression: {exc}") from None
            if groups > 1:
                raise self.fail(f"{key}.pattern", "at most one (group): the part kept")
            opts["pattern"] = pattern
        if "otherwise" in t:
            opts["otherwise"] = self.value(t["otherwise"], f"{key}.otherwise", "attr")
        return _replace_many(base, opts)

    def _source(self, t: dict[str, Any], kind: str, key: str) -> Value:
        arg = t[kind]
        if kind == "column":
            return Value(key, refs=(self.text(arg, f"{key}.column"),))
        if kind == "value":
            return Value(key, const=self.text(arg, f"{key}.value"))
        if kind == "template":
            return self._template(self.text(arg, f"{key}.template"), f"{key}.template")
        if not isinstance(arg, list) or not arg:
            raise self.fail(f"{key}.{kind}", "expected a non-empty list of columns")
        refs = tuple(self.text(a, f"{key}.{kind}") for a in arg)
        return Value(key, refs=refs, latest=kind == "latest_of")

    def _template_or_const(self, raw: str, key: str) -> Value:
        if "{" in raw or "}" in raw:
            return self._template(raw, key)
        return Value(key, const=raw)

    def _template(self, raw: str, key: str) -> Value:
        parts: list[tuple[str, str | None]] = []
        pos = 0
        literal = ""
        for m in PLACEHOLDER.finditer(raw):
            literal += raw[pos : m.start()]
            pos = m.end()
            if m.group(0) in ("{{", "}}"):
                literal += m.group(0)[0]
                continue
            ref = (m.group(1) or "").strip()
            if not ref:
                raise self.fail(key, f"empty placeholder {{}} in {raw!r}")
            parts.append((literal, ref))
            literal = ""
        rest = raw[pos:]
        if "{" in rest or "}" in rest:
            raise self.fail(key, f"unbalanced brace in {raw!r} (write {{{{ or }}}} for a literal)")
        parts.append((literal + rest, None))
        if len(parts) == 2 and parts[0][0] == "" and parts[1][0] == "":
            return Value(key, refs=(str(parts[0][1]),))  # "{col}" is the column itself
        return Value(key, template=tuple(parts))


def _as_list(value: object) -> list[object]:
    return value if isinstance(value, list) else [value]


def _replace(obj: Any, key: str, value: object) -> Any:
    from dataclasses import replace

    return replace(obj, **{key: value})


def _replace_many(obj: Value, opts: dict[str, Any]) -> Value:
    from dataclasses import replace

    return replace(obj, **opts)
