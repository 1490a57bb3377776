"""Effort per issue (C6): the distributions and the issues and customers behind them."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class EffortGroup(BaseModel):
    """One group's figures (every figure of `cxloop effort summary`)."""

    model_config = ConfigDict(extra="allow")
    by: str
    value: str
    issues: int
    customers: int
    contacts: int
    transfers: int
    one_touch_rate: float
    first_contact_resolution_rate: float
    repeat_rate: float
    reopened_rate: float
    elapsed_hours_median: float | None
    elapsed_hours_p90: float | None
    first_reply_hours_median: float | None
    first_reply_hours_p90: float | None


class EffortIssue(BaseModel):
    model_config = ConfigDict(extra="allow")
    issue_id: str
    customer_id: str
    started_at: str
    contacts: int
    replies: int
    transfers: int
    elapsed_hours: float
    wait_first_reply_hours: float
    wait_between_replies_hours: float
    wait_approval_hours: float
    customer_turn_hours: float


class EffortCustomer(BaseModel):
    model_config = ConfigDict(extra="allow")
    customer_id: str
    issues: int
    contacts: int
    elapsed_hours: float
    waited_hours: float


class EffortIssuesPage(BaseModel):
    items: list[EffortIssue]
    total: int
    limit: int
    offset: int
    next_offset: int | None


class EffortCustomersPage(BaseModel):
    items: list[EffortCustomer]
    total: int
    limit: int
    offset: int
    next_offset: int | None
