"""Incidents found by the detectors, kept so a notice can always name what it is about.

One row per incident id (stable across detection runs); a later run over more data
updates the figures and keeps the first detection time.
"""

from __future__ import annotations

import json
from dataclasses import asdict, fields
from datetime import datetime
from typing import Any

from cxloop.domain.incidents import Incident
from cxloop.store.db import Connection
from cxloop.store.state import StateDB

_TIMES = {"window_start", "window_end", "detectable_at", "detected_at"}


def _encode(incident: Incident) -> str:
    data = asdict(incident)
    for k in _TIMES:
        data[k] = data[k].isoformat() if data[k] is not None else None
    return json.dumps(data, default=str, sort_keys=True)


def _decode(text: str) -> Incident:
    data: dict[str, Any] = json.loads(text)
    for k in _TIMES:
        data[k] = datetime.fromisoformat(data[k]) if data.get(k) else None
    known = {f.name for f in fields(Incident)}
    return Incident(**{k: v for k, v in data.items() if k in known})


def _count(con: Connection) -> int:
    row = con.execute("SELECT count(*) FROM incidents").fetchone()
    return int(row[0]) if row else 0


class IncidentStore:
    def __init__(self, state: StateDB) -> None:
        self.state = state

    def record(self, incidents: list[Incident], now: str) -> int:
        """Insert or refresh; returns how many were new."""
        with self.state.connect() as con:
            before = _count(con)
            con.executemany(
                "INSERT INTO incidents (incident_id, detector, kind, value, window_start, summary, "
                "body, first_detected_at, last_detected_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (incident_id) DO UPDATE SET summary = excluded.summary, "
                "body = excluded.body, last_detected_at = excluded.last_detected_at",
                [
                    (
                        i.incident_id,
                        i.detector,
                        i.kind,
                        i.value,
                        i.window_start.isoformat(),
                        i.summary,
                        _encode(i),
                        now,
                        now,
                    )
                    for i in incidents
                ],
            )
            after = _count(con)
        return int(after - before)

    def get(self, incident_id: str) -> Incident | None:
        with self.state.connect() as con:
            row = con.execute(
                "SELECT body FROM incidents WHERE incident_id = ?", (incident_id,)
            ).fetchone()
        return _decode(row["body"]) if row else None

    def all(self) -> list[tuple[Incident, str, str]]:
        """Every incident with its first and last detection times."""
        with self.state.connect() as con:
            rows = con.execute(
                "SELECT body, first_detected_at, last_detected_at FROM incidents "
                "ORDER BY window_start, detector, value"
            ).fetchall()
        return [(_decode(r["body"]), r["first_detected_at"], r["last_detected_at"]) for r in rows]
