"""What the edges (the server, the dashboard, the command line) need beyond
:class:`cxloop.Cxloop`'s methods: keys, sessions and roles, who acts from the command line,
masking, the workspace and the policy and rules files. The one place ``cxloop.api`` and
``cxloop.cli`` take these from (they import no ``cxloop.services`` module); the modules
behind these names may move."""

from __future__ import annotations

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
from cxloop.services.brief.refresh import FIRST_PAGE, fingerprint, lookup, remember
from cxloop.services.log.corrections import Operator
from cxloop.services.log.ingest import resolve_mapping
from cxloop.services.recovery.policy import DEFAULT_POLICY_NAME, load_policy, policy_text
from cxloop.workspace.migrations import current_revision
from cxloop.workspace.migrations import migrate as migrate_state
from cxloop.workspace.migrations import where as migration_where
from cxloop.workspace.workspace import Workspace, load_rules

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
    "remember",
    "resolve_mapping",
    "revoke_key",
    "session_principal",
    "sign_in",
    "sign_out",
]
