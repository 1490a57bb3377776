"""Actions taken on daily-brief items (the operational state): what was done about which item,
by whom, when, and the item's figures at that moment, so a later brief can show the effect.
Append-only: an action is recorded, never edited."""

from __future__ import annotations

import json
from typing import Any

from cxloop.store.state import StateDB


class BriefActions:
    def __init__(self, state: StateDB) -> None:
        self.state = state

    def record(self, item: dict[str, Any], note: str, actor: str, acted_at: str) -> dict[str, Any]:
        before = {k: item[k] for k in ("customers", "revenue", "reach", "control")}
        if item.get("audience"):  # who among them was told, complained, reviewed
            before["audience"] = item["audience"]
        with self.state.connect() as con:
            cur = con.execute(
                "INSERT INTO brief_actions (item_key, kind, title, note, actor, acted_at, before)"
                " VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING action_id",
                (
                    item["key"],
                    item["kind"],
                    item["title"],
                    note,
                    actor,
                    acted_at,
                    json.dumps(before),
                ),
            )
            found = cur.fetchone()
            assert found is not None
            action_id = int(found[0])
        return self.get(action_id)

    def get(self, action_id: int) -> dict[str, Any]:
        with self.state.connect() as con:
            row = con.execute(
                "SELECT * FROM brief_actions WHERE action_id = ?", (action_id,)
            ).fetchone()
        return self._row(row)

    def all(self) -> list[dict[str, Any]]:
        with self.state.connect() as con:
            rows = con.execute("SELECT * FROM brief_actions ORDER BY action_id").fetchall()
        return [self._row(r) for r in rows]

    @staticmethod
    def _row(row: Any) -> dict[str, Any]:
        out = dict(row)
        out["before"] = json.loads(out["before"])
        return out
