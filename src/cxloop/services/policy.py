"""Loading the empowerment policy: a TOML file, or the built-in default."""

from __future__ import annotations

import tomllib
from importlib import resources
from pathlib import Path

from cxloop.domain.policy import Policy, policy_from_dict
from cxloop.errors import ConfigError

#: Where the built-in policy lives (package data) and what errors call it.
DEFAULT_POLICY = "policy.toml"
DEFAULT_POLICY_NAME = "built-in default policy"


def load_policy(path: Path | None) -> Policy:
    """The empowerment policy from a TOML file (None: the built-in default).

    Every error is a ConfigError that starts with the file, e.g.
    ``policy.toml: grants[2].role: unknown role 'boss' (known: agent, lead, manager, director)``.
    """
    where = DEFAULT_POLICY_NAME if path is None else str(path)
    try:
        if path is None:
            text = resources.files("cxloop.rules").joinpath(DEFAULT_POLICY).read_text("utf-8")
        else:
            text = path.read_text(encoding="utf-8")
        data = tomllib.loads(text)
    except FileNotFoundError:
        raise ConfigError(f"{where}: policy file not found") from None
    except IsADirectoryError:
        raise ConfigError(f"{where}: is a directory, not a policy file") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{where}: not UTF-8 text") from None
    except OSError as exc:
        raise ConfigError(f"{where}: cannot read the policy file: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{where}: not valid TOML: {exc}") from None
    try:
        return policy_from_dict(data)
    except ConfigError as exc:
        raise ConfigError(f"{where}: {exc}") from None
