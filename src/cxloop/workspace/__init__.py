"""The workspace: one store, its engine, its configuration files and its schema
revision (infrastructure the use cases in :mod:`cxloop.services` stand on)."""

from cxloop.workspace.workspace import Workspace

__all__ = ["Workspace"]
