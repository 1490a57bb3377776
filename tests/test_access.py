"""Roles and masking (services/access/permissions.py), without a server."""

from __future__ import annotations

import pytest

from cxloop.services.access.permissions import MASK, PERMISSIONS, ROLES, Forbidden, Principal, mask


def test_masking_hides_people_not_facts() -> None:
    event = {
        "customer_id": "CU-000042",
        "ts": "2026-11-20T14:55:38",
        "ref": "O-007463",
        "amount": 123.99,
        "attrs": {
            "email": "ana@example.org",
            "name": "Ana Souza",
            "region": "southeast",
            "items": 2,
            "text": "call me on +55 11 91234-5678 about order O-007463 of 2026-11-20",
        },
    }
    masked = mask(event)
    assert masked["customer_id"] == "CU-000042" and masked["ref"] == "O-007463"
    assert masked["ts"] == event["ts"] and masked["amount"] == 123.99
    attrs = masked["attrs"]
    assert attrs["email"] == MASK and attrs["name"] == MASK
    assert attrs["region"] == "southeast" and attrs["items"] == 2
    assert "91234" not in attrs["text"] and "O-007463" in attrs["text"]
    assert "2026-11-20" in attrs["text"]
    # a detector's or a key's name is not a person's
    incident = {"details": {"spec": {"name": "late_deliveries"}}, "summary": "ana@example.org"}
    assert mask(incident)["details"]["spec"]["name"] == "late_deliveries"
    assert mask(incident)["summary"] == f"{MASK}@{MASK}"
    notice = {"address": "ana@example.org", "data": {"name": "Ana"}, "subject": "Your order"}
    assert mask(notice) == {"address": MASK, "data": {"name": MASK}, "subject": "Your order"}


@pytest.mark.parametrize("role", ROLES)
def test_the_ladder(role: str) -> None:
    who = Principal("k1", "someone", role, None if role == "viewer" else "agent")
    for action, needs in PERMISSIONS.items():
        allowed = ROLES.index(role) >= ROLES.index(needs)
        assert who.can(action) is allowed
        if not allowed:
            with pytest.raises(Forbidden, match=f"needs role {needs}"):
                who.require(action)
