"""The library handle of a request: :class:`cxloop.Cxloop` over the request's own workspace
(the routes call its methods, as the command line and notebooks do)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from cxloop.api.deps import workspace
from cxloop.client import Cxloop
from cxloop.services.workspace import Workspace

__all__ = ["Cx", "Workspace", "library", "of"]


def of(ws: Workspace) -> Cxloop:
    """The library over ``ws`` (cheap: nothing is read until a method is called; never
    closed here, the runtime's pool owns the workspace)."""
    return Cxloop(ws)


def library(ws: Annotated[Workspace, Depends(workspace)]) -> Cxloop:
    return of(ws)


Cx = Annotated[Cxloop, Depends(library)]
