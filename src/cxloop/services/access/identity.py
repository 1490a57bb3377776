"""Who acts from the command line: the holder of an API key, or the store's keyless operator.

The API takes the caller's name and role from its key
(:mod:`cxloop.services.access.permissions`); the command line does the same:

- with a key (``--key``, or ``CXLOOP_API_KEY`` in the operator's environment) the actor is
  the key's name, judged by the empowerment policy in the key's ``grant_as`` role, and may
  do what the key's role may (an agent key works cases and grants, a lead key decides
  approvals, as on the API);
- without a key the actor is the *operator*: the name given (``--actor`` or
  ``CXLOOP_ACTOR``), in the policy's lowest role (``agent`` in the built-in policy), with an
  agent key's permissions; deciding approvals needs a key.

``--role`` (or ``CXLOOP_ROLE``) can only lower the role an actor is judged in, never raise
it: authority above the lowest role comes from a key an admin made. docs/recovery.md
("Who acts") says what this does and does not protect against.
"""

from __future__ import annotations

from cxloop.domain.policy import Policy
from cxloop.errors import ConfigError, PolicyError
from cxloop.services.access.permissions import PERMISSIONS, Forbidden, Principal, authenticate
from cxloop.services.recovery.cases import Actor
from cxloop.workspace.workspace import Workspace

OPERATOR_KEY = "(no key)"  # the key id shown for the keyless operator
OPERATOR_ROLE = "agent"  # the keyless operator's permissions (access roles)


def cli_principal(ws: Workspace, policy: Policy, key: str | None, name: str | None) -> Principal:
    """The principal a command acts as: the key's holder, else the keyless operator."""
    if key:
        found = authenticate(ws, key.strip())
        if found is None:
            raise PolicyError("unknown or revoked API key (--key or CXLOOP_API_KEY)")
        if name and name.strip() != found.name:
            raise PolicyError(
                f"--actor {name.strip()!r} is not the holder of key {found.key_id} "
                f"({found.name!r}): with a key you act under the key's name"
            )
        return found
    if not name or not name.strip():
        raise ConfigError(
            "say who acts: --key (or CXLOOP_API_KEY) with a key from `cxloop keys create`, "
            "or --actor (or CXLOOP_ACTOR) to act as the keyless operator"
        )
    return Principal(OPERATOR_KEY, name.strip(), OPERATOR_ROLE, policy.roles[0])


def acting(principal: Principal, policy: Policy, action: str, role: str | None = None) -> Actor:
    """The actor for ``action`` (a permission of :data:`PERMISSIONS`), judged by the policy
    in the principal's role, or in ``role`` when that is lower: a role is never raised."""
    if not principal.can(action):
        if principal.key_id == OPERATOR_KEY:
            raise Forbidden(
                f"{action.replace('_', ' ')} needs a key of role {PERMISSIONS[action]} or "
                f"above (--key or CXLOOP_API_KEY); without a key {principal.name} acts as "
                f"the operator, in role {policy.roles[0]}"
            )
        principal.require(action)
    actor = principal.actor(policy)
    if not role or role == actor.role:
        return actor
    if policy.rank(role) > policy.rank(actor.role):
        source = (
            "without a key, the policy's lowest role"
            if principal.key_id == OPERATOR_KEY
            else f"key {principal.key_id} grants as {actor.role}"
        )
        raise Forbidden(
            f"--role {role} is above what {actor.name} may grant as ({actor.role}: {source}); "
            "a role is never raised by a flag: use a key made with "
            f"`cxloop keys create --name {actor.name} --role ROLE --grant-as {role}`"
        )
    return Actor(actor.name, role)
