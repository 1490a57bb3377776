"""Loading the empowerment policy: a TOML file, or the built-in default."""

from __future__ import annotations

from pathlib import Path

from cxloop.domain.policy import Policy, policy_from_dict
from cxloop.errors import ConfigError
from cxloop.services.config import read_toml

#: The built-in policy (package data).
DEFAULT_POLICY = "policy.toml"
DEFAULT_POLICY_NAME = "built-in default policy"  # how the CLI names it


def load_policy(path: Path | None) -> Policy:
    """The empowerment policy from a TOML file (None: the built-in default).

    Every error is a ConfigError that starts with the file, e.g.
    ``policy.toml: grants[2].role: unknown role 'boss' (known: agent, lead, manager, director)``.
    """
    data, where = read_toml(path, DEFAULT_POLICY, "policy")
    try:
        return policy_from_dict(data)
    except ConfigError as exc:
        raise ConfigError(f"{where}: {exc}") from None
