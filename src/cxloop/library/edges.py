"""What the edges (the server, the dashboard, the command line) need beyond
:class:`cxloop.Cxloop`'s methods: keys, sessions and roles, who acts from the command line,
masking, the workspace and the policy and rules files. The one place ``cxloop.api`` and
``cxloop.cli`` take these from (they import no ``cxloop.services`` module); the modules
behind these names may move."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cxloop.services.access.identity import acting, cli_principal
    from cxloop.services.access.masking import mask
    from cxloop.services.access.permissions import (
        ROLES,
        Forbidden,
        Principal,
        authenticate,
        create_key,
        list_keys,
        prepare,
        revoke_key,
        session_principal,
        sign_in,
        sign_out,
    )
    from cxloop.services.access.queries import refusal as query_refusal
    from cxloop.services.brief.refresh import FIRST_PAGE, fingerprint, lookup, remember
    from cxloop.services.log.corrections import Operator
    from cxloop.services.log.ingest import resolve_mapping
    from cxloop.services.log.preview import preview as preview_mapping
    from cxloop.services.recovery.policy import DEFAULT_POLICY_NAME, load_policy, policy_text
    from cxloop.workspace.migrations import current_revision
    from cxloop.workspace.migrations import migrate as migrate_state
    from cxloop.workspace.migrations import where as migration_where
    from cxloop.workspace.workspace import Workspace, load_rules

#: Where each name lives (module, name there): imported on first use (PEP 562), so that a
#: command imports the services it calls and not those of every other command.
_LAZY = {
    "acting": ("cxloop.services.access.identity", "acting"),
    "cli_principal": ("cxloop.services.access.identity", "cli_principal"),
    "mask": ("cxloop.services.access.masking", "mask"),
    "query_refusal": ("cxloop.services.access.queries", "refusal"),
    "ROLES": ("cxloop.services.access.permissions", "ROLES"),
    "Forbidden": ("cxloop.services.access.permissions", "Forbidden"),
    "Principal": ("cxloop.services.access.permissions", "Principal"),
    "authenticate": ("cxloop.services.access.permissions", "authenticate"),
    "create_key": ("cxloop.services.access.permissions", "create_key"),
    "list_keys": ("cxloop.services.access.permissions", "list_keys"),
    "prepare": ("cxloop.services.access.permissions", "prepare"),
    "revoke_key": ("cxloop.services.access.permissions", "revoke_key"),
    "session_principal": ("cxloop.services.access.permissions", "session_principal"),
    "sign_in": ("cxloop.services.access.permissions", "sign_in"),
    "sign_out": ("cxloop.services.access.permissions", "sign_out"),
    "FIRST_PAGE": ("cxloop.services.brief.refresh", "FIRST_PAGE"),
    "fingerprint": ("cxloop.services.brief.refresh", "fingerprint"),
    "lookup": ("cxloop.services.brief.refresh", "lookup"),
    "remember": ("cxloop.services.brief.refresh", "remember"),
    "Operator": ("cxloop.services.log.corrections", "Operator"),
    "resolve_mapping": ("cxloop.services.log.ingest", "resolve_mapping"),
    "preview_mapping": ("cxloop.services.log.preview", "preview"),
    "DEFAULT_POLICY_NAME": ("cxloop.services.recovery.policy", "DEFAULT_POLICY_NAME"),
    "load_policy": ("cxloop.services.recovery.policy", "load_policy"),
    "policy_text": ("cxloop.services.recovery.policy", "policy_text"),
    "current_revision": ("cxloop.workspace.migrations", "current_revision"),
    "migrate_state": ("cxloop.workspace.migrations", "migrate"),
    "migration_where": ("cxloop.workspace.migrations", "where"),
    "Workspace": ("cxloop.workspace.workspace", "Workspace"),
    "load_rules": ("cxloop.workspace.workspace", "load_rules"),
}


def __getattr__(name: str) -> Any:
    where = _LAZY.get(name)
    if where is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from importlib import import_module

    value = getattr(import_module(where[0]), where[1])
    globals()[name] = value
    return value


__all__ = [
    "DEFAULT_POLICY_NAME",
    "FIRST_PAGE",
    "ROLES",
    "Forbidden",
    "Operator",
    "Principal",
    "Workspace",
    "acting",
    "authenticate",
    "cli_principal",
    "create_key",
    "current_revision",
    "fingerprint",
    "list_keys",
    "load_policy",
    "load_rules",
    "lookup",
    "mask",
    "migrate_state",
    "migration_where",
    "policy_text",
    "prepare",
    "preview_mapping",
    "query_refusal",
    "remember",
    "resolve_mapping",
    "revoke_key",
    "session_principal",
    "sign_in",
    "sign_out",
]
