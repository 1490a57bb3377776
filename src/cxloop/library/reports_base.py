"""What every report mixin reads from the handle it is mixed into (:class:`cxloop.Cxloop`)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from cxloop.workspace.workspace import Workspace

if TYPE_CHECKING:
    from cxloop.domain.policy import Policy


class ReportBase:
    """The store's workspace; the empowerment policy and the store's clock (defined by
    :class:`cxloop.Cxloop`)."""

    workspace: Workspace

    if TYPE_CHECKING:

        @property
        def policy(self) -> Policy: ...

        def now(self) -> datetime: ...
