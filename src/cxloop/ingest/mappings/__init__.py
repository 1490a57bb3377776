"""Named mappings from source exports to canonical events.

``generic`` is code (the canonical columns themselves); every other built-in mapping is
a mapping file (TOML, docs/mappings.md) shipped in this package, the same format a user
passes with ``cxloop ingest PATH --mapping FILE``.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from cxloop.errors import InputError
from cxloop.ingest.mapfile.engine import FileMapping
from cxloop.ingest.mappings.base import Mapping, Staged
from cxloop.ingest.mappings.generic import GenericMapping


def _builtin_files() -> dict[str, str]:
    """name -> TOML text of the mapping files shipped in this package."""
    out = {}
    for entry in sorted(resources.files(__package__).iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".toml"):
            out[entry.name.removesuffix(".toml")] = entry.read_text(encoding="utf-8")
    return out


BUILTIN_FILES = _builtin_files()


def _builtins() -> dict[str, Mapping]:
    out: dict[str, Mapping] = {"generic": GenericMapping()}
    for name, text in BUILTIN_FILES.items():
        out[name] = FileMapping.from_text(text, f"{name}.toml (built in)", name)
    return out


MAPPINGS: dict[str, Mapping] = _builtins()


def get_mapping(name: str) -> Mapping:
    """A built-in mapping by name, or a mapping file (a path ending in .toml)."""
    if name in MAPPINGS:
        return MAPPINGS[name]
    if name.lower().endswith(".toml"):
        return FileMapping.from_file(Path(name))
    raise InputError(
        f"unknown source mapping {name!r}; available: {', '.join(sorted(MAPPINGS))} "
        "(or a mapping file: --mapping FILE.toml)"
    )


__all__ = ["BUILTIN_FILES", "MAPPINGS", "FileMapping", "Mapping", "Staged", "get_mapping"]
