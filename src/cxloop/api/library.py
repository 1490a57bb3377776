"""The library handle of a page or a route that holds a workspace: :class:`cxloop.Cxloop`
over it (the routes call its methods, as the command line and notebooks do). Routes take
``Cx`` (:mod:`cxloop.api.deps`: the request's workspace with the server's policy)."""

from __future__ import annotations

from cxloop.api.deps import Cx
from cxloop.client import Cxloop
from cxloop.library.edges import Workspace

__all__ = ["Cx", "Workspace", "of"]


def of(ws: Workspace) -> Cxloop:
    """The library over ``ws`` (cheap: nothing is read until a method is called; never
    closed here, the runtime's pool owns the workspace)."""
    return Cxloop(ws)
