"""One ``[[events]]`` table as a SELECT, and the row checks over its result."""

from __future__ import annotations

from cxloop.domain.events import DEFAULT_DEPARTMENT, EVENT_TYPES
from cxloop.ingest.mapfile.formats import number_hint
from cxloop.ingest.mapfile.spec import Condition, EventSpec, MappingFileError, MapSpec, Value
from cxloop.ingest.mapfile.values import (
    Scope,
    mapped_sql,
    number_sql,
    source_sql,
    time_reason_sql,
    time_sql,
    typed_sql,
)
from cxloop.ingest.staging import Check, lit, q
from cxloop.ingest.vocabulary import normalise_sql, vocabulary_checks

TIMES = ("ts", "due_at")


def label(v: Value) -> str:
    """The name a problem gives a field: the source column(s) it came from."""
    refs = v.columns()
    return " | ".join(dict.fromkeys(refs)) if refs else v.key


def _default_department() -> str:
    cases = " ".join(
        f"WHEN {lit(t.value)} THEN {lit(d.value)}" for t, d in DEFAULT_DEPARTMENT.items()
    )
    return f"CASE event_type {cases} END"


def _condition(c: Condition, scope: Scope, key: str) -> str:
    v = scope.ref(c.ref, key)
    vals = ", ".join(lit(x) for x in c.values)
    return {
        "equals": f"{v} = {lit(c.values[0])}",
        "not_equals": f"{v} IS DISTINCT FROM {lit(c.values[0])}",
        "in": f"{v} IN ({vals})",
        "not_in": f"({v} IS NULL OR {v} NOT IN ({vals}))",
        "present": f"{v} IS {'NOT ' if c.values[0] == 'true' else ''}NULL",
    }[c.op]


def _fields(event: EventSpec, scope: Scope) -> list[str]:
    f = event.fields
    out = []
    for name in ("event_id", "customer_id", "ref"):
        out.append(f"{mapped_sql(f[name], scope)[0] if name in f else 'NULL::VARCHAR'} AS {name}")
    for name in ("event_type", "department", "channel"):
        if name in f:
            sql, miss = mapped_sql(f[name], scope)
            out.append(f"{normalise_sql(sql)} AS {name}_given")
            if miss:
                out += [f"{miss} AS _miss_{name}", f"{source_sql(f[name], scope)} AS _src_{name}"]
        else:
            out.append(f"NULL::VARCHAR AS {name}_given")
    for name in TIMES:
        if name in f:
            raw = mapped_sql(f[name], scope)[0]
            out += [f"{raw} AS {name}_raw", f"{time_sql(f[name], raw, scope)} AS {name}"]
        else:
            out += [f"NULL::VARCHAR AS {name}_raw", f"NULL::TIMESTAMP AS {name}"]
    if "amount" in f:
        raw = mapped_sql(f["amount"], scope)[0]
        out += [f"{raw} AS amount_raw", f"{number_sql(raw, f['amount'])} AS amount"]
    else:
        out += ["NULL::VARCHAR AS amount_raw", "NULL::DOUBLE AS amount"]
    return out


def _attrs(event: EventSpec, scope: Scope) -> list[str]:
    pairs, out = [], []
    for j, (k, v) in enumerate(event.attrs.items()):
        raw = mapped_sql(v, scope)[0]
        typed = typed_sql(v, raw, scope)
        out += [f"{raw} AS _a{j}_raw", f"{typed} AS _a{j}"]
        miss = mapped_sql(v, scope)[1]
        if miss:
            out += [f"{miss} AS _amiss{j}", f"{source_sql(v, scope)} AS _asrc{j}"]
        pairs.append(f"{lit(k)}, {typed}")
    if event.attrs_rest:
        taken = set(scope.used_columns)
        for c in scope.columns:
            if c not in taken and c not in event.attrs:
                pairs.append(f"{lit(c)}, {scope.ref(c, event.key + '.attrs_rest')}")
    obj = f"nullif(CAST(json_object({', '.join(pairs)}) AS VARCHAR), '{{}}')" if pairs else "NULL"
    return [f"{obj} AS attrs", *out]


def _joins(spec: MapSpec, scope: Scope, index: dict[str, int]) -> str:
    """LEFT JOINs for the lookups used, each after the lookup its match reads (if any)."""
    done: list[str] = []
    joins: list[str] = []

    def visit(name: str) -> None:
        if name in done:
            return
        lk = spec.lookups[name]
        head = lk.match.partition(".")[0]
        if head in spec.lookups and head != name:
            visit(head)
        match = scope.ref(lk.match, f"lookup.{name}.match")
        done.append(name)
        joins.append(
            f"LEFT JOIN {lookup_source(spec, scope, index, name)} lk_{name} "
            f"ON lk_{name}._k = {match}"
        )

    i = 0
    while i < len(scope.used_lookups):
        visit(scope.used_lookups[i])
        i += 1
    return " ".join(joins)


def lookup_source(spec: MapSpec, scope: Scope, index: dict[str, int], name: str) -> str:
    """The rows a lookup matches: the first row per key, or one row of aggregates per key."""
    lk = spec.lookups[name]
    if lk.aggregate:
        return f"_agg_{name}"
    cols = scope.lookups[name]
    if lk.key not in cols and name in scope.sparse:  # an optional file that is absent
        return "(SELECT NULL::VARCHAR AS _k WHERE false)"
    if lk.key not in cols:
        shown = ", ".join(cols[:30])
        raise MappingFileError(
            scope.file,
            f"lookup.{name}.key",
            f"no column {lk.key!r} in input {lk.input} (columns: {shown})",
        )
    rows = f"_in{index[lk.input]}"
    skipped = scope.quarantined.get(lk.input, [])
    if lk.loaded_only and skipped:
        bad = " UNION ".join(f"SELECT _file, _row FROM {t}" for t in skipped)
        rows = (
            f"(SELECT * FROM {rows} x WHERE NOT EXISTS (SELECT 1 FROM ({bad}) b "
            "WHERE b._file = x._file AND b._row = x._row))"
        )
    k = f"nullif(trim({q(lk.key)}), '')"
    return (
        f"(SELECT * EXCLUDE (_n) FROM (SELECT *, {k} AS _k, row_number() OVER "
        f"(PARTITION BY {k} ORDER BY _file, _row) AS _n FROM {rows}) WHERE _n = 1)"
    )


def event_select(spec: MapSpec, event: EventSpec, scope: Scope, index: dict[str, int]) -> str:
    base = f"_in{index[event.input]}"
    if event.each:
        arr = scope.json_array(event.each, f"{event.key}.each")
        src = (
            f"(SELECT b.* EXCLUDE (_a), unnest(_a) AS _el, generate_subscripts(_a, 1) AS _i "
            f"FROM (SELECT r.*, {arr} AS _a FROM {base} r) b)"
        )
    else:
        src = f"(SELECT *, NULL::JSON AS _el, NULL::BIGINT AS _i FROM {base})"
    cols = _fields(event, scope) + _attrs(event, scope)
    where = " AND ".join(_condition(c, scope, f"{event.key}.when") for c in event.when) or "true"
    reqs = [
        f"coalesce({_condition(r.when, scope, event.key) if r.when else 'true'}, false) AND NOT "
        f"coalesce({_condition(r.condition, scope, event.key)}, false) AS _req{j}"
        for j, r in enumerate(event.require)
    ]
    joins = _joins(spec, scope, index)  # may add the lookups that matches read
    lookups = []
    for name in list(scope.used_lookups):
        lk = spec.lookups[name]
        match = scope.ref(lk.match, f"lookup.{name}.match")
        lookups += [f"{match} AS _lk_{name}_match", f"lk_{name}._k IS NOT NULL AS _lk_{name}_found"]
    inner = ", ".join([*cols, *lookups, *reqs, "r._file AS _file", "r._row AS _row", "r._i AS _i"])
    return f"""
        SELECT * EXCLUDE (event_type_given, department_given, channel_given),
               coalesce(department_given, {_default_department()}) AS department
        FROM (SELECT *, event_type_given AS event_type, channel_given AS channel FROM (
              SELECT {inner} FROM {src} r {joins} WHERE {where}))"""


def _attr_reason(k: str, v: Value, j: int) -> str:
    if v.type == "time":
        return f"{lit(f'attrs.{k}: ')} || {time_reason_sql(v, f'_a{j}_raw')}"
    hint = number_hint(v) if v.type in ("number", "integer") else ""
    return f"'not a valid {v.type} for attrs.{k}: ' || _a{j}_raw || {lit(hint)}"


def _where(event: EventSpec, reason: str) -> str:
    """Prefix a reason with the element's position inside a nested array."""
    if not event.each:
        return reason
    return f"'({event.alias} ' || _i || ') ' || {reason}"


def event_checks(
    spec: MapSpec, event: EventSpec, scope: Scope, files: dict[str, str]
) -> list[Check]:
    f, checks = event.fields, []
    # a required lookup that found nothing is the one problem told, not the fields it empties
    missed = [
        f"(_lk_{n}_match IS NOT NULL AND NOT _lk_{n}_found)"
        for n in scope.used_lookups
        if spec.lookups[n].required
    ]
    for name in ("customer_id", "event_type", "ts"):
        col = f"{name}_raw" if name == "ts" else name
        failed = f"{col} IS NULL"
        if missed:
            failed += f" AND NOT coalesce({' OR '.join(missed)}, false)"
        if name == "event_type" and f[name].map is not None and f[name].default is None:
            failed += " AND NOT coalesce(_miss_event_type, false)"  # told once, as a map miss
        checks.append(Check(label(f[name]), failed, _where(event, "'is empty (required)'")))
    for name in ("event_type", "department", "channel"):
        mapped = f[name].map if name in f else None
        if mapped is not None and f[name].default is None:
            keys = ", ".join(mapped)
            checks.append(
                Check(
                    label(f[name]),
                    f"_miss_{name}",
                    _where(
                        event,
                        f"'value ' || _src_{name} || ' is not in the map of "
                        f"{event.key}.{name} (mapped: ' || {lit(keys)} || ')'",
                    ),
                    f"_src_{name}",
                )
            )
    types = ", ".join(lit(t) for t in sorted(EVENT_TYPES))
    checks.append(
        Check(
            label(f["event_type"]),
            f"event_type NOT IN ({types})",
            _where(
                event,
                f"'unknown event type ' || event_type || ' (expected one of: ' || "
                f"{lit(', '.join(sorted(EVENT_TYPES)))} || ')'",
            ),
            "event_type",
        )
    )
    for name in TIMES:
        if name in f:
            checks.append(
                Check(
                    label(f[name]),
                    f"{name}_raw IS NOT NULL AND {name} IS NULL",
                    _where(event, time_reason_sql(f[name], f"{name}_raw")),
                    f"{name}_raw",
                )
            )
    if "amount" in f:
        checks.append(
            Check(
                label(f["amount"]),
                "amount_raw IS NOT NULL AND amount IS NULL",
                _where(event, f"'not a number: ' || amount_raw || {lit(number_hint(f['amount']))}"),
                "amount_raw",
            )
        )
    for j, (k, v) in enumerate(event.attrs.items()):
        if v.type != "text":
            checks.append(
                Check(
                    label(v),
                    f"_a{j}_raw IS NOT NULL AND _a{j} IS NULL",
                    _where(event, _attr_reason(k, v, j)),
                    f"_a{j}_raw",
                )
            )
    for j, (k, v) in enumerate(event.attrs.items()):
        if v.map is not None and v.default is None:
            checks.append(
                Check(
                    label(v),
                    f"_amiss{j}",
                    _where(
                        event,
                        f"'value ' || _asrc{j} || "
                        f"{lit(f' is not in the map of {event.key}.attrs.{k} (mapped: ')} || "
                        f"{lit(', '.join(v.map) + ')')}",
                    ),
                    f"_asrc{j}",
                )
            )
    for j, r in enumerate(event.require):
        checks.append(Check(r.condition.ref, f"_req{j}", _where(event, lit(r.reason))))
    for name in scope.used_lookups:
        lk = spec.lookups[name]
        if lk.required:
            checks.append(
                Check(
                    lk.match,
                    f"_lk_{name}_match IS NOT NULL AND NOT _lk_{name}_found",
                    _where(
                        event,
                        f"{lit('no row with ' + lk.key + ' = ')} || _lk_{name}_match || "
                        f"{lit(' in ' + files[lk.input] + ' (lookup ' + name + ')')}",
                    ),
                    f"_lk_{name}_match",
                )
            )
    checks += vocabulary_checks(
        field_dept=label(f["department"]) if "department" in f else "department",
        field_channel=label(f["channel"]) if "channel" in f else "channel",
    )
    return checks


__all__ = ["MappingFileError", "event_checks", "event_select", "label"]
