"""JSON-safe values from pandas and datetime results (the CLI, the API and the dashboard)."""

from __future__ import annotations

import math
from datetime import date, datetime
from typing import Any

import pandas as pd
from pydantic import BaseModel


def clean(value: Any) -> Any:
    """A JSON-safe value: timestamps as ISO 8601, NaN/NaT as null, a typed result
    (:mod:`cxloop.results`) as its dict."""
    if value is None:
        return None
    if isinstance(value, BaseModel):  # a typed result: the keys it was made with
        return clean(value.model_dump(exclude_unset=True))
    if isinstance(value, pd.Timestamp | datetime | date):
        if pd.isna(value):
            return None
        return value.isoformat()
    if isinstance(value, float) and math.isnan(value):
        return None
    if hasattr(value, "item") and not isinstance(value, list | dict | str):
        return clean(value.item())
    if isinstance(value, list | tuple):
        return [clean(v) for v in value]
    if isinstance(value, dict):
        return {k: clean(v) for k, v in value.items()}
    return value


def records(df: pd.DataFrame) -> list[dict[str, Any]]:
    return [{k: clean(v) for k, v in row.items()} for row in df.to_dict(orient="records")]
