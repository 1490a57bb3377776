"""The library's one surface: every type a ``Cxloop`` method takes or returns, and every
error cxloop raises on purpose, is importable from ``cxloop`` itself."""

from __future__ import annotations

import inspect
import typing

import cxloop
from cxloop import errors
from cxloop.client import Cxloop


def _cxloop_types(hint: object) -> set[type]:
    found: set[type] = set()
    stack = [hint]
    while stack:
        x = stack.pop()
        stack.extend(typing.get_args(x))
        if isinstance(x, type) and x.__module__.startswith("cxloop."):
            found.add(x)
    return found


def test_every_type_of_the_library_surface_is_exported() -> None:
    # the library's modules import the types of their hints under TYPE_CHECKING (a command
    # imports only what it calls): the hints are read with cxloop's public names, so a type
    # that cxloop does not export fails here (a NameError) as it did before
    exported = {n: getattr(cxloop, n) for n in cxloop.__all__}
    used: set[type] = set()
    for name, member in inspect.getmembers(Cxloop):
        if name.startswith("_"):
            continue
        target = member.fget if isinstance(member, property) else member
        if callable(target):
            for hint in typing.get_type_hints(target, localns=exported).values():
                used |= _cxloop_types(hint)
    missing = sorted(t.__name__ for t in used if getattr(cxloop, t.__name__, None) is not t)
    assert not missing, f"export these from cxloop (and list them in __all__): {missing}"


def test_every_error_is_exported_and_all_is_exact() -> None:
    raised = {
        n
        for n, c in inspect.getmembers(errors, inspect.isclass)
        if issubclass(c, errors.CxloopError) and c.__module__ == "cxloop.errors"
    }
    assert raised <= set(cxloop.__all__)
    public = {n for n in dir(cxloop) if not n.startswith("_") and n not in {"annotations"}}
    modules = {n for n in public if inspect.ismodule(getattr(cxloop, n))}
    assert set(cxloop.__all__) - {"__version__"} == public - modules
