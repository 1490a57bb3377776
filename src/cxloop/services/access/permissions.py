"""Who may do what through the API and the dashboard.

Four roles, a ladder (each may do what the ones below it may):

- ``viewer``: read reports, timelines, cases and the brief, with customers' personal data
  masked;
- ``agent``: work cases (start, assign, resolve, follow up), grant remedies within the
  empowerment policy, request approval beyond it; sees personal data;
- ``lead``: decide approvals, raise cases from signals, detect incidents and send
  outreach, record actions on brief items, score customer health again;
- ``admin``: ingest events, rebuild the ledger.

A key's ``grant_as`` is the role the empowerment policy judges its grants and approvals
in (default: the policy role of the same name; for admin, the top of the policy's
ladder). Whatever a client sends, the server takes the role from the key.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cxloop.domain.names import check_name, identity, skeleton
from cxloop.domain.policy import Policy
from cxloop.errors import ConfigError, NotFoundError, PolicyError
from cxloop.services.access.masking import MASK, mask
from cxloop.services.recovery.cases import Actor
from cxloop.store.keys import ApiKeys
from cxloop.store.sessions import Session, Sessions
from cxloop.workspace.workspace import Workspace

__all__ = ["MASK", "PERMISSIONS", "ROLES", "Forbidden", "Principal", "mask"]

ROLES = ("viewer", "agent", "lead", "admin")

# what each action needs, at least
PERMISSIONS: dict[str, str] = {
    "read": "viewer",
    "personal_data": "agent",
    "work_cases": "agent",
    "grant": "agent",
    "decide_approvals": "lead",
    "sync_cases": "lead",
    "detect_incidents": "lead",
    "send_outreach": "lead",
    "act_on_brief": "lead",
    "ingest": "admin",
    "build_ledger": "admin",
    "score_health": "lead",
}


def rank(role: str) -> int:
    return ROLES.index(role)


def check_role(role: str) -> str:
    if role not in ROLES:
        raise ConfigError(f"unknown role {role!r}: use one of {', '.join(ROLES)}")
    return role


def default_grant_as(role: str, policy: Policy) -> str | None:
    if role == "viewer":
        return None
    if role == "admin":
        return policy.roles[-1]
    return role if role in policy.roles else None


@dataclass(frozen=True)
class Principal:
    """The caller, as its API key says."""

    key_id: str
    name: str
    role: str
    grant_as: str | None

    def can(self, action: str) -> bool:
        return rank(self.role) >= rank(PERMISSIONS[action])

    def require(self, action: str) -> None:
        if not self.can(action):
            raise Forbidden(
                f"{action.replace('_', ' ')} needs role {PERMISSIONS[action]} or above; "
                f"key {self.key_id} ({self.name}) is {self.role}"
            )

    def actor(self, policy: Policy) -> Actor:
        """The actor the empowerment policy judges (the key's name in the key's role)."""
        if self.grant_as is None:
            raise Forbidden(f"key {self.key_id} ({self.name}) may not grant remedies")
        if self.grant_as not in policy.roles:
            raise PolicyError(
                f"key {self.key_id} grants as {self.grant_as!r}, which the empowerment policy "
                f"(version {policy.version}) does not have: it has {', '.join(policy.roles)}"
            )
        return Actor(self.name, self.grant_as)

    def as_dict(self) -> dict[str, Any]:
        return {
            "key_id": self.key_id,
            "name": self.name,
            "role": self.role,
            "grant_as": self.grant_as,
            "may": sorted(a for a in PERMISSIONS if self.can(a)),
        }


class Forbidden(PolicyError):
    """The caller's role does not allow the action (HTTP 403)."""


def create_key(
    ws: Workspace,
    name: str,
    role: str,
    policy: Policy,
    grant_as: str | None = None,
    created_by: str = "cli",
) -> tuple[str, dict[str, Any]]:
    """A new key; returns (plain key, its row). ``grant_as`` must be a policy role."""
    check_role(role)
    name = check_name(name)
    if not name:
        raise ConfigError("a key needs a name (who or what uses it)")
    if grant_as is not None and role == "viewer":
        raise ConfigError("a viewer key cannot grant remedies: leave out --grant-as")
    chosen = grant_as if grant_as is not None else default_grant_as(role, policy)
    if chosen is not None and chosen not in policy.roles:
        raise ConfigError(
            f"--grant-as {chosen!r} is not a role of the empowerment policy: "
            f"use one of {', '.join(policy.roles)}"
        )
    if chosen is None and role != "viewer":
        raise ConfigError(
            f"the empowerment policy has no role {role!r}: say which of its roles this key "
            f"grants as with --grant-as ({', '.join(policy.roles)})"
        )
    keys = ApiKeys(ws.state)
    _refuse_look_alike(keys, name)
    token = keys.create(name, role, chosen, created_by)
    return token, keys.get(token.split("_")[1])


def _refuse_look_alike(keys: ApiKeys, name: str) -> None:
    """One person may hold several keys under one name; another person's name may not look
    like it (four eyes compares names: :mod:`cxloop.domain.names`)."""
    for row in keys.list(include_revoked=True):
        other = row["name"]
        if identity(other) != identity(name) and skeleton(other) == skeleton(name):
            raise ConfigError(
                f"the name {name!r} looks like the name {other!r} of key {row['key_id']}: "
                "give one person one name across their keys, and different people names "
                "that do not look alike"
            )


def authenticate(ws: Workspace, token: str) -> Principal | None:
    """The key's principal, or None. The server creates the keys table at start."""
    row = ApiKeys(ws.state, create=False).verify(token)
    if row is None:
        return None
    return Principal(row["key_id"], row["name"], row["role"], row["grant_as"])


def sign_in(ws: Workspace, token: str, hours: float) -> tuple[str, Session, Principal] | None:
    """Open a dashboard session with an API key: (session token, session, principal), or
    None when the key is unknown or revoked. The browser keeps the session token only."""
    who = authenticate(ws, token)
    if who is None:
        return None
    cookie, session = Sessions(ws.state).open(who.key_id, hours * 3600)
    return cookie, session, who


def session_principal(ws: Workspace, cookie: str) -> tuple[Session, Principal] | None:
    """The live session behind a cookie and its key's principal; None when the session is
    unknown, ended or expired, or its key was revoked since."""
    session = Sessions(ws.state).find(cookie)
    if session is None:
        return None
    try:
        row = ApiKeys(ws.state, create=False).get(session.key_id)
    except NotFoundError:
        return None
    if row["revoked_at"] is not None:
        return None
    return session, Principal(row["key_id"], row["name"], row["role"], row["grant_as"])


def sign_out(ws: Workspace, cookie: str) -> bool:
    return Sessions(ws.state).end(cookie)


def prepare(ws: Workspace) -> None:
    """Create the keys' tables (a server does it before serving its first request)."""
    ApiKeys(ws.state)


def list_keys(ws: Workspace, include_revoked: bool = False) -> list[dict[str, Any]]:
    """The keys (never their secrets): name, role, created, revoked, last used."""
    return ApiKeys(ws.state).list(include_revoked=include_revoked)


def revoke_key(ws: Workspace, key_id: str) -> dict[str, Any]:
    """Revoke a key: the next request with it is refused."""
    return ApiKeys(ws.state).revoke(key_id)
