"""Loading the empowerment policy: a TOML file, or the built-in default."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from cxloop.domain.policy import Policy, policy_from_dict
from cxloop.errors import ConfigError
from cxloop.workspace.config import read_toml

#: The built-in policy (package data).
DEFAULT_POLICY = "policy.toml"
DEFAULT_POLICY_NAME = "built-in default policy"  # how the CLI names it


def policy_text(path: Path | None) -> str:
    """The policy file's text (None: the built-in policy's), to copy and edit."""
    if path is not None:
        try:
            return path.read_text("utf-8")
        except OSError as exc:
            raise ConfigError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    return resources.files("cxloop.rules").joinpath(DEFAULT_POLICY).read_text("utf-8")


def load_policy(path: Path | None, currency: str | None = None) -> Policy:
    """The empowerment policy from a TOML file (None: the built-in default).

    Every error is a ConfigError that starts with the file, e.g.
    ``policy.toml: grants[2].role: unknown role 'boss' (known: agent, lead, manager, director)``.
    With ``currency`` (the data's, setting ``currency``), a policy whose amounts are in
    another currency is refused: its limits would be read as the wrong money.
    """
    data, where = read_toml(path, DEFAULT_POLICY, "policy")
    try:
        policy = policy_from_dict(data)
    except ConfigError as exc:
        raise ConfigError(f"{where}: {exc}") from None
    if currency is not None and policy.currency != currency.upper():
        raise ConfigError(
            f"{where}: the policy's amounts are in {policy.currency} but the data's currency "
            f"is {currency.upper()} (setting currency, CXLOOP_CURRENCY); write the policy's "
            f'limits in {currency.upper()} (currency = "{currency.upper()}") or set the '
            "currency setting to the policy's"
        )
    return policy
