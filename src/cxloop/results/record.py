"""Results that also read as mappings: ``case["state"]`` as well as ``case.state``.

Before typed results the library returned plain dicts; scripts written against them keep
working (``r["key"]``, ``r.get("key")``, ``"key" in r``), and :meth:`Record.as_dict` gives
the plain dict (what the API and ``--format json`` write)."""

from __future__ import annotations

from typing import Any

from cxloop.results.base import Out


class Record(Out):
    """A result of the library: typed attributes, a mapping-style read, :meth:`as_dict`."""

    def as_dict(self) -> dict[str, Any]:
        """The result as a plain dict: the keys it was made with (documented ones first,
        then any extra ones)."""
        return self.model_dump(exclude_unset=True)

    def __getitem__(self, key: str) -> Any:
        if key in type(self).model_fields:
            return getattr(self, key)
        extra = self.__pydantic_extra__ or {}
        if key in extra:
            return extra[key]
        raise KeyError(key)

    def get(self, key: str, default: Any = None) -> Any:
        try:
            return self[key]
        except KeyError:
            return default

    def __contains__(self, key: object) -> bool:
        return key in type(self).model_fields or key in (self.__pydantic_extra__ or {})

    def keys(self) -> list[str]:
        return list(self.as_dict())
