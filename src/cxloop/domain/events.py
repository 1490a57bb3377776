"""The canonical customer event: what every department's facts become.

Pure definitions (no I/O). The event log stores one row per event with the
columns of :data:`EVENT_COLUMNS`; mappings turn source files into these rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Department(StrEnum):
    """The part of the organization that owns an event (and its promises)."""

    SALES = "sales"
    FULFILLMENT = "fulfillment"
    LOGISTICS = "logistics"
    BILLING = "billing"
    SUPPORT = "support"
    RETURNS = "returns"
    CUSTOMER = "customer"  # the customer's own voice: surveys, reviews
    PEOPLE = "people"  # employees' own voice when it names no department


class EventType(StrEnum):
    """Every fact cxloop understands. Unknown types are quarantined at ingest."""

    ORDER_PLACED = "order_placed"
    ORDER_CANCELED = "order_canceled"
    ORDER_SHIPPED = "order_shipped"
    ORDER_DELIVERED = "order_delivered"
    INVOICE_ISSUED = "invoice_issued"
    PAYMENT_RECEIVED = "payment_received"
    REFUND_REQUESTED = "refund_requested"
    REFUND_ISSUED = "refund_issued"
    CREDIT_ISSUED = "credit_issued"
    CONTACT_INBOUND = "contact_inbound"
    REPLY_SENT = "reply_sent"
    TRANSFER = "transfer"
    HOLD = "hold"
    CALLBACK_PROMISED = "callback_promised"
    CALLBACK_MADE = "callback_made"
    REPLACEMENT_PROMISED = "replacement_promised"
    REPLACEMENT_DELIVERED = "replacement_delivered"
    SURVEY_RESPONSE = "survey_response"
    REVIEW = "review"
    REMEDY_GRANTED = "remedy_granted"
    FOLLOW_UP_PROMISED = "follow_up_promised"
    FOLLOW_UP_MADE = "follow_up_made"
    NOTICE_SENT = "notice_sent"
    EMPLOYEE_FEEDBACK = "employee_feedback"


#: The event types that carry what customers and employees say or score (the voice).
VOICE_TYPES = (
    EventType.SURVEY_RESPONSE,
    EventType.REVIEW,
    EventType.CONTACT_INBOUND,
    EventType.EMPLOYEE_FEEDBACK,
)


#: The department an event belongs to when the source does not say.
DEFAULT_DEPARTMENT: dict[EventType, Department] = {
    EventType.ORDER_PLACED: Department.SALES,
    EventType.ORDER_CANCELED: Department.SALES,
    EventType.ORDER_SHIPPED: Department.FULFILLMENT,
    EventType.ORDER_DELIVERED: Department.LOGISTICS,
    EventType.INVOICE_ISSUED: Department.BILLING,
    EventType.PAYMENT_RECEIVED: Department.BILLING,
    EventType.REFUND_REQUESTED: Department.RETURNS,
    EventType.REFUND_ISSUED: Department.BILLING,
    EventType.CREDIT_ISSUED: Department.BILLING,
    EventType.CONTACT_INBOUND: Department.SUPPORT,
    EventType.REPLY_SENT: Department.SUPPORT,
    EventType.TRANSFER: Department.SUPPORT,
    EventType.HOLD: Department.SUPPORT,
    EventType.CALLBACK_PROMISED: Department.SUPPORT,
    EventType.CALLBACK_MADE: Department.SUPPORT,
    EventType.REPLACEMENT_PROMISED: Department.SUPPORT,
    EventType.REPLACEMENT_DELIVERED: Department.FULFILLMENT,
    EventType.SURVEY_RESPONSE: Department.CUSTOMER,
    EventType.REVIEW: Department.CUSTOMER,
    EventType.REMEDY_GRANTED: Department.SUPPORT,
    EventType.FOLLOW_UP_PROMISED: Department.SUPPORT,
    EventType.FOLLOW_UP_MADE: Department.SUPPORT,
    EventType.NOTICE_SENT: Department.SUPPORT,
    EventType.EMPLOYEE_FEEDBACK: Department.PEOPLE,
}

EVENT_TYPES: frozenset[str] = frozenset(t.value for t in EventType)
#: Types cxloop writes itself (recovery actions); source exports do not carry them.
INTERNAL_EVENT_TYPES: frozenset[str] = frozenset(
    t.value
    for t in (
        EventType.REMEDY_GRANTED,
        EventType.FOLLOW_UP_PROMISED,
        EventType.FOLLOW_UP_MADE,
        EventType.NOTICE_SENT,
    )
)
#: Types whose ``customer_id`` is an employee (pseudonymous), not a customer.
EMPLOYEE_EVENT_TYPES: frozenset[str] = frozenset({EventType.EMPLOYEE_FEEDBACK.value})
DEPARTMENTS: frozenset[str] = frozenset(d.value for d in Department)
#: The default ``departments`` setting (a store may configure others).
DEFAULT_DEPARTMENTS: tuple[str, ...] = tuple(d.value for d in Department)
#: The default ``channels`` setting: the channels cxloop's own data and mappings use.
DEFAULT_CHANNELS: tuple[str, ...] = (
    "web",
    "phone",
    "chat",
    "email",
    "store",
    "carrier",
    "sms",
    "social",
    "twitter",
    "survey",
    "pulse",
)


@dataclass(frozen=True)
class Column:
    """One column of the canonical event schema."""

    name: str
    dtype: str  # an Ibis type name: string, timestamp, float64, int64
    required: bool
    help: str


#: The canonical event columns, in log order. The ``generic`` mapping reads
#: these names from CSV / JSONL / Parquet; docs/events.md is generated from it.
EVENT_COLUMNS: tuple[Column, ...] = (
    Column(
        "event_id",
        "string",
        False,
        "Stable id; re-loading an id already in the log is a no-op. "
        "Derived from the other fields when absent.",
    ),
    Column(
        "customer_id",
        "string",
        True,
        "The customer (person or account) the fact is about; for employee_feedback, the "
        "(pseudonymous) employee.",
    ),
    Column("event_type", "string", True, "One of the event types (see the list below)."),
    Column(
        "ts",
        "timestamp",
        True,
        "When it happened: ISO 8601; an offset is converted to UTC, "
        "a time without offset is taken as UTC.",
    ),
    Column("department", "string", False, "Owning department; defaults by event type."),
    Column("channel", "string", False, "web, phone, chat, email, store, carrier, …"),
    Column(
        "ref",
        "string",
        False,
        "What the event is about: an order, case or contact id. Events of one promise share it.",
    ),
    Column("amount", "float64", False, "Money involved (order value, invoice, refund, credit)."),
    Column(
        "due_at",
        "timestamp",
        False,
        "A time promised to the customer (delivery date, callback "
        "time); opens a promise where a rule says so.",
    ),
    Column(
        "attrs",
        "string",
        False,
        "Everything else, as a JSON object (score, text, seller, region, "
        "ship_by, hold_seconds …). Extra input columns land here.",
    ),
)

#: Columns the log adds to every event (lineage).
LINEAGE_COLUMNS: tuple[Column, ...] = (
    Column("source", "string", True, "The mapping that produced the event."),
    Column("source_file", "string", True, "The file the event came from."),
    Column("source_row", "int64", True, "Its row in that file (first data row is 1)."),
    Column("ingest_id", "string", True, "The ingest run that added it."),
    Column(
        "content_hash",
        "string",
        True,
        "Hash of the event's content, to tell a repeat from a conflicting re-use of an event_id.",
    ),
)

LOG_COLUMNS: tuple[Column, ...] = EVENT_COLUMNS + LINEAGE_COLUMNS
