"""The base of every result type: lenient at run time, strict in the OpenAPI spec.

Models are lenient at run time (``extra="allow"``: a key a service adds is passed on, never
dropped) and strict in the spec (``additionalProperties: false``), so a key that is not
documented fails the schema tests rather than vanishing from an answer. Rows that carry
user-defined data (an event's ``attrs``, a report grouped by a dimension the caller picks)
are :class:`Open`.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict


class Out(BaseModel):
    """An answer whose keys are all documented."""

    model_config = ConfigDict(
        extra="allow",
        use_attribute_docstrings=True,
        json_schema_extra={"additionalProperties": False},
    )


class Open(Out):
    """An answer that may carry more keys than the documented ones."""

    model_config = ConfigDict(json_schema_extra={"additionalProperties": True})


Json = dict[str, Any]
