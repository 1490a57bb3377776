"""Use cases: take back one ingest run (``cxloop ingest revert``), erase a person
(``cxloop forget``). See docs/corrections.md."""

from __future__ import annotations

import json
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb

from cxloop.errors import InputError, NotFoundError
from cxloop.store import corrections as store
from cxloop.store.logrewrite import Removal, remove_rows
from cxloop.workspace.workspace import Workspace

#: the ingest runs of cxloop's own events (services/log/internal.py) live under HOME/internal
INTERNAL_DIR = "internal"
EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")


@dataclass(frozen=True)
class Operator:
    """Who corrects the store (recorded in the retraction or erasure and the audit)."""

    name: str
    role: str = "operator"


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


def _check_revertible(ws: Workspace, ingest_id: str) -> dict[str, Any]:
    run = store.run_of(ws.state, ingest_id)
    if run is None:
        raise NotFoundError(f"no ingest run {ingest_id!r} (`cxloop ingest runs` lists them)")
    done = store.retraction_of(ws.state, ingest_id)
    if done is not None:
        raise InputError(
            f"ingest run {ingest_id} was already reverted at {done['at']} by {done['actor']}"
        )
    internal = (ws.home / INTERNAL_DIR).resolve()
    if Path(run["path"]).resolve().is_relative_to(internal):
        raise InputError(
            f"ingest run {ingest_id} holds cxloop's own events ({Path(run['path']).name}: "
            "remedies granted, follow-ups promised by case actions), not a load of yours; "
            "they are the record of what was done and cannot be reverted"
        )
    if run["status"] != "done":
        why = {
            "running": "is still running (or was interrupted: its events, if any, are in the "
            "log under this id; wait for it to end)",
            "failed": "failed and added nothing to the log",
            "unchanged": "found its files already loaded and added nothing; revert the run "
            "that loaded them",
        }.get(run["status"], f"has status {run['status']}")
        raise InputError(f"ingest run {ingest_id} {why}")
    if not int(run["events_new"] or 0) and not int(run["rows_quarantined"] or 0):
        raise InputError(
            f"ingest run {ingest_id} added nothing to the log and quarantined nothing "
            "(its events were already there): nothing to revert"
        )
    return run


def revert_ingest(ws: Workspace, ingest_id: str, operator: Operator) -> dict[str, Any]:
    """Take the events of ingest run ``ingest_id`` out of the log, mark its quarantine rows
    retracted and record the retraction (audited). Raises NotFoundError for an unknown run,
    InputError for one already reverted, one of cxloop's own, or one that added nothing."""
    ws.writable_log("ingest revert")
    run = _check_revertible(ws, ingest_id)
    con = duckdb.connect()
    try:
        ws.configure(con)
        with ws.write_lock():
            removed = remove_rows(ws.log, con, Removal("ingest_id", ingest_id), purge=False)
            entry = {
                "at": _now(),
                "actor": operator.name,
                "role": operator.role,
                "events": removed.rows,
                "log_version": removed.version,
            }
            done = store.record_retraction(ws.state, ingest_id, entry)
    finally:
        con.close()
    later = [
        r["ingest_id"]
        for r in ws.state.runs()
        if r["started_at"] > run["started_at"]
        and r["status"] in ("done", "unchanged")
        and int(r["events_duplicate"] or 0)
    ]
    return {**done, "source": run["source"], "path": run["path"], "reload_with_force": later}


def runs(ws: Workspace) -> list[dict[str, Any]]:
    """Every ingest run, oldest first, with its retraction (or None)."""
    retracted = store.retractions(ws.state)
    return [{**r, "retraction": retracted.get(r["ingest_id"])} for r in ws.state.runs()]


# ------------------------------------------------------------------ forget


def _personal(ws: Workspace, customer_id: str) -> tuple[list[str], list[str]]:
    """The person's addresses (tokens to erase besides the id) and their voice texts."""
    from cxloop.analytics.voice import voice_expr

    t = ws.events()
    rows = t.filter(t.customer_id == customer_id).select("attrs").execute()
    found: set[str] = set(store.addresses(ws.state, customer_id))
    for attrs in rows["attrs"].dropna():
        found.update(EMAIL.findall(str(attrs)))
    v = voice_expr(t)
    texts = v.filter(v.customer_id == customer_id).select("text").execute()["text"]
    return sorted(found), [str(x) for x in texts.dropna()]


def forget(ws: Workspace, customer_id: str, operator: Operator) -> dict[str, Any]:
    """Erase ``customer_id``'s personal data from the log, the state, the caches and the
    store's own files; returns the erasure record (a random id and counts, nothing
    personal) and ``leftovers``: where the person is still named (empty when done)."""
    from cxloop.services.log import erasure

    ws.writable_log("forget")
    customer_id = customer_id.strip()
    if not customer_id:
        raise InputError("forget: the customer id is empty")
    addresses, texts = _personal(ws, customer_id)
    tokens = [customer_id, *addresses]
    if not erasure.leftovers(ws, tokens):
        raise NotFoundError(f"nothing in this store names customer {customer_id!r}")
    eid = "ER-" + secrets.token_hex(8)
    entry: dict[str, Any] = {
        "erasure_id": eid,
        "at": _now(),
        "actor": operator.name,
        "role": operator.role,
    }
    con = duckdb.connect()
    try:
        ws.configure(con)
        with ws.write_lock():
            removed = remove_rows(ws.log, con, Removal("customer_id", customer_id), purge=True)
            files = erasure.scrub_files(ws, tokens, texts)
            entry["log"] = {"events": removed.rows, "log_version": removed.version, **files}
            counts = store.erase_person(ws.state, customer_id, tokens, entry)
    finally:
        con.close()
    erasure.after(ws)
    leftovers = erasure.leftovers(ws, tokens)
    return {
        "erasure_id": eid,
        "at": entry["at"],
        "actor": operator.name,
        "counts": {**counts, **entry["log"]},
        "leftovers": leftovers,
    }


def erasures(ws: Workspace) -> list[dict[str, Any]]:
    with ws.state.connect() as con:
        rows = con.execute("SELECT * FROM erasures ORDER BY at").fetchall()
    return [{**dict(r), "counts": json.loads(r["counts"])} for r in rows]
