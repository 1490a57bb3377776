"""Sending notices: a real SMTP server (aiosmtpd) and a real HTTP server on loopback.

The crash test kills a sending process mid-run and checks that nobody is
notified twice and that every notice is accounted for.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default as default_policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from hypothesis import given, settings
from hypothesis import strategies as st

from cxloop.domain.sending import TERMINAL_STATES, TRANSITIONS, SendStatus, can_claim
from cxloop.errors import ConfigError, DeliveryError, NotFoundError, PolicyError, StoreError
from cxloop.notify.base import Notice, Receipt
from cxloop.notify.smtp import SmtpChannel, message_id
from cxloop.notify.webhook import WebhookChannel, signature
from cxloop.services.incidents.sending import channel_from_settings, deliver, enqueue
from cxloop.settings import Settings
from cxloop.store.lock import WriteLock
from cxloop.store.outbox import Outbox
from cxloop.store.state import StateDB
from cxloop.workspace.workspace import Workspace

SENDER = "care@localhost"
SECRET = "s3cret"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def notices(n: int, incident: str = "inc-1", start: int = 0) -> list[Notice]:
    return [
        Notice(
            key=f"{incident}:cust-{i}",
            incident_id=incident,
            customer_id=f"cust-{i}",
            address=f"cust{i}@example.test",
            subject=f"About your order {i}",
            body=f"Hello {i},\nyour parcel is late; we are on it.\n",
            data={"order": f"o-{i}", "late_days": i % 5},
        )
        for i in range(start, start + n)
    ]


# --- a real SMTP server -------------------------------------------------------------------


@dataclass
class Mailbox:
    """aiosmtpd handler: keeps every message, refuses some recipients, can be slow."""

    messages: list[EmailMessage] = field(default_factory=list)
    envelopes: list[tuple[str, list[str]]] = field(default_factory=list)
    refuse: set[str] = field(default_factory=set)
    defer: set[str] = field(default_factory=set)
    delay: float = 0.0  # before answering the data
    rcpt_delay: float = 0.0  # before answering RCPT

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        await asyncio.sleep(self.rcpt_delay)
        if address in self.refuse:
            return f"550 5.1.1 <{address}>: mailbox unavailable"
        if address in self.defer:
            return "451 4.3.0 try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        msg = message_from_bytes(envelope.content, policy=default_policy)
        assert isinstance(msg, EmailMessage)
        self.messages.append(msg)  # counted as soon as it arrives, before the reply
        self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        if self.delay:
            await asyncio.sleep(self.delay)
        return "250 2.0.0 accepted"

    def received(self) -> Counter[str]:
        return Counter(str(m["X-Cxloop-Key"]) for m in list(self.messages))


@dataclass
class SmtpServer:
    port: int
    mailbox: Mailbox

    def channel(self, timeout: float = 5.0) -> SmtpChannel:
        return SmtpChannel("127.0.0.1", self.port, SENDER, timeout=timeout)


def start_smtp(port: int, mailbox: Mailbox) -> Controller:
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    return controller


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    server = SmtpServer(free_port(), Mailbox())
    controller = start_smtp(server.port, server.mailbox)
    yield server
    controller.stop()


# --- a real HTTP server -------------------------------------------------------------------


@dataclass
class Hook:
    """What the webhook receiver saw; ``statuses`` are its next answers (0: hang up)."""

    requests: list[dict[str, Any]] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)


class HookServer(ThreadingHTTPServer):
    hook: Hook


class HookHandler(BaseHTTPRequestHandler):
    server: HookServer

    def do_POST(self) -> None:
        raw = self.rfile.read(int(self.headers["Content-Length"]))
        expected = "sha256=" + hmac.new(SECRET.encode(), raw, hashlib.sha256).hexdigest()
        given_sig = self.headers.get("X-Cxloop-Signature", "")
        self.server.hook.requests.append(
            {
                "headers": dict(self.headers),
                "json": json.loads(raw),
                "verified": hmac.compare_digest(expected, given_sig),
            }
        )
        status = self.server.hook.statuses.pop(0) if self.server.hook.statuses else 200
        if status == 0:  # took the request, then hung up without an answer
            self.close_connection = True
            return
        answer = b'{"error": "unknown customer"}' if status >= 400 else b'{"ok": true}'
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the test reads what the server recorded instead."""


@pytest.fixture
def hook() -> Iterator[tuple[str, Hook]]:
    server = HookServer(("127.0.0.1", 0), HookHandler)
    server.hook = Hook()
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hooks/cx", server.hook
    server.shutdown()
    server.server_close()
    thread.join()


@pytest.fixture
def ws(tmp_path: Path) -> Workspace:
    return Workspace(Settings(home=tmp_path / "store", lock_timeout=5))


# --- e-mail -------------------------------------------------------------------------------


def test_mail_has_envelope_subject_message_id_and_headers(smtp: SmtpServer, ws: Workspace) -> None:
    n = Notice(
        "inc-7:cust-1",
        "inc-7",
        "cust-1",
        "ana@example.test",
        "Ihre Lieferung — Entschuldigung",
        "Hello Ana,\n.a line that starts with a dot\nSorry.\n",
    )
    assert enqueue(ws, [n], "email") == 1
    report = deliver(ws, smtp.channel())
    assert (report.sent, report.failed, report.errors) == (1, 0, [])
    assert smtp.mailbox.envelopes == [(SENDER, ["ana@example.test"])]
    (msg,) = smtp.mailbox.messages
    assert msg["Subject"] == n.subject
    assert msg["From"] == SENDER and msg["To"] == "ana@example.test"
    assert (
        msg["Message-ID"]
        == message_id(n.key)
        == f"<inc-7-cust-1.{hashlib.sha256(n.key.encode()).hexdigest()[:12]}@cxloop>"
    )
    assert msg["X-Cxloop-Key"] == n.key and msg["X-Cxloop-Incident"] == "inc-7"
    assert msg["Date"].datetime.tzinfo is not None
    assert msg.get_content().replace("\r\n", "\n") == n.body  # CRLF on the wire
    (row,) = Outbox(ws.state).rows()
    assert (row.status, row.attempts, row.receipt, row.error) == (
        SendStatus.SENT,
        1,
        message_id(n.key),
        None,
    )


def test_message_id_is_deterministic_safe_and_distinct() -> None:
    assert message_id("inc-1.cust-2") == "<inc-1.cust-2@cxloop>"
    odd = ["inc 1/cust<2>", "inc 1:cust<2>", "..", "x\r\nBcc: evil@example.test"]
    ids = [message_id(k) for k in odd]
    assert ids == [message_id(k) for k in odd]
    assert len(set(ids)) == len(ids)
    assert all(re.fullmatch(r"<[A-Za-z0-9._+=-]+@cxloop>", i) for i in ids), ids


def test_enqueue_twice_deliver_twice_sends_each_key_once(smtp: SmtpServer, ws: Workspace) -> None:
    batch = notices(5)
    assert enqueue(ws, batch, "email") == 5
    assert enqueue(ws, batch, "email") == 0
    again = Notice("other-key", "inc-1", "cust-0", "x@example.test", "s", "b")
    assert enqueue(ws, [again], "email") == 0  # one notice per incident and customer
    first = deliver(ws, smtp.channel())
    second = deliver(ws, smtp.channel())
    assert (first.sent, first.skipped_already_sent) == (5, 0)
    assert (second.sent, second.skipped_already_sent, second.total) == (0, 5, 5)
    assert smtp.mailbox.received() == Counter({n.key: 1 for n in batch})
    assert Outbox(ws.state).summary()[SendStatus.SENT] == 5


def test_refused_recipient_fails_for_good(smtp: SmtpServer, ws: Workspace) -> None:
    batch = notices(3)
    smtp.mailbox.refuse.add(batch[1].address)
    enqueue(ws, batch, "email")
    report = deliver(ws, smtp.channel())
    assert (report.sent, report.failed) == (2, 1)
    ((key, error),) = report.errors
    assert key == batch[1].key and "550" in error and batch[1].address in error
    (row,) = Outbox(ws.state).rows(status=SendStatus.FAILED)
    assert (row.key, row.retryable, row.attempts, row.error) == (key, False, 1, error)
    smtp.mailbox.refuse.clear()
    later = deliver(ws, smtp.channel())  # not retried: the refusal was permanent
    assert (later.sent, later.failed, later.skipped_failed, later.skipped_already_sent) == (
        0,
        0,
        1,
        2,
    )
    assert Outbox(ws.state).rows(status=SendStatus.FAILED)[0].attempts == 1
    assert key not in smtp.mailbox.received()


@pytest.mark.parametrize(
    ("setup", "retryable", "text"),
    [
        ("refuse", False, "550 5.1.1"),
        ("defer", True, "451 4.3.0 try again later"),
        ("slow", True, "failed before the message went out"),
    ],
)
def test_smtp_failures_before_the_data(
    smtp: SmtpServer, setup: str, retryable: bool, text: str
) -> None:
    (n,) = notices(1)
    if setup == "slow":
        smtp.mailbox.rcpt_delay = 0.5
    else:
        getattr(smtp.mailbox, setup).add(n.address)
    with pytest.raises(DeliveryError) as caught:
        smtp.channel(timeout=0.2).send(n)
    assert caught.value.retryable is retryable
    assert text in str(caught.value)
    assert smtp.mailbox.messages == []


def test_missing_or_bad_address_is_a_permanent_failure(smtp: SmtpServer, ws: Workspace) -> None:
    empty = Notice("k1", "inc-1", "cust-9", "", "s", "b")
    bad = Notice("k2", "inc-1", "cust-8", "not an address", "s", "b")
    broken = Notice("k3", "inc-1", "cust-7", "c@example.test", "two\nlines", "b")
    enqueue(ws, [empty, bad, broken], "email")
    report = deliver(ws, smtp.channel())
    assert report.failed == 3 and smtp.mailbox.messages == []
    errors = dict(report.errors)
    assert errors["k1"] == "no e-mail address for customer cust-9"
    assert "cust-8" in errors["k2"] and "cannot build" in errors["k3"]
    assert not any(r.retryable for r in Outbox(ws.state).rows())


def test_server_down_fails_retryably_then_delivers(ws: Workspace) -> None:
    port = free_port()  # nothing listens here yet
    channel = SmtpChannel("127.0.0.1", port, SENDER, timeout=2)
    enqueue(ws, notices(2), "email")
    down = deliver(ws, channel)
    assert (down.sent, down.failed) == (0, 2)
    assert all("cannot reach the SMTP server" in e for _, e in down.errors)
    assert all(r.retryable for r in Outbox(ws.state).rows(status=SendStatus.FAILED))
    mailbox = Mailbox()
    controller = start_smtp(port, mailbox)
    try:
        up = deliver(ws, channel)
    finally:
        controller.stop()
    assert (up.sent, up.failed, up.errors) == (2, 0, [])
    assert sorted(mailbox.received().values()) == [1, 1]
    assert [r.attempts for r in Outbox(ws.state).rows()] == [2, 2]


def test_no_reply_after_the_data_is_uncertain_not_resent(smtp: SmtpServer, ws: Workspace) -> None:
    enqueue(ws, notices(1), "email")
    smtp.mailbox.delay = 0.6
    report = deliver(ws, smtp.channel(timeout=0.2))
    assert (report.sent, report.failed, report.uncertain) == (0, 0, 1)
    assert "may or may not have been delivered" in report.errors[0][1]
    smtp.mailbox.delay = 0
    assert deliver(ws, smtp.channel()).uncertain == 1  # left alone
    assert len(smtp.mailbox.messages) == 1
    retried = deliver(ws, smtp.channel(), retry_uncertain=True)
    assert (retried.sent, retried.uncertain) == (1, 0)


def test_limit_progress_and_incident_scope(smtp: SmtpServer, ws: Workspace) -> None:
    enqueue(ws, notices(4, "inc-a") + notices(2, "inc-b"), "email")
    seen: list[tuple[int, int]] = []
    report = deliver(ws, smtp.channel(), incident_id="inc-a", limit=3, progress=_append(seen))
    assert (report.sent, report.left, report.total) == (3, 1, 4)
    assert seen == [(1, 3), (2, 3), (3, 3)]
    assert Outbox(ws.state).summary("inc-b")[SendStatus.PENDING] == 2
    assert deliver(ws, smtp.channel()).sent == 3


def _append(seen: list[tuple[int, int]]) -> Callable[[int, int], None]:
    return lambda done, total: seen.append((done, total))


def test_only_one_sender_at_a_time(smtp: SmtpServer, tmp_path: Path) -> None:
    ws = Workspace(Settings(home=tmp_path / "store", lock_timeout=0.2))
    enqueue(ws, notices(1), "email")
    with (
        WriteLock(ws.home / ".send.lock", 1),
        pytest.raises(StoreError, match="another sender"),
    ):
        deliver(ws, smtp.channel())
    assert smtp.mailbox.messages == []


# --- webhooks -----------------------------------------------------------------------------


def test_webhook_posts_signed_json(hook: tuple[str, Hook], ws: Workspace) -> None:
    url, seen = hook
    (n,) = notices(1)
    enqueue(ws, [n], "webhook")
    report = deliver(ws, WebhookChannel(url, secret=SECRET))
    assert (report.sent, report.errors) == (1, [])
    (request,) = seen.requests
    assert request["verified"] is True
    assert request["headers"]["Content-Type"] == "application/json"
    assert request["headers"]["Idempotency-Key"] == n.key
    assert request["json"] == {
        "key": n.key,
        "incident_id": n.incident_id,
        "customer_id": n.customer_id,
        "address": n.address,
        "subject": n.subject,
        "body": n.body,
        "data": n.data,
    }
    assert Outbox(ws.state).rows()[0].receipt == "HTTP 200"
    body = WebhookChannel(url, secret=SECRET).body(n)
    assert (
        signature(SECRET, body)
        == "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    )


def test_webhook_without_secret_is_unsigned(hook: tuple[str, Hook]) -> None:
    url, seen = hook
    receipt = WebhookChannel(url).send(notices(1)[0])
    assert receipt == Receipt("webhook", "HTTP 200")
    assert "X-Cxloop-Signature" not in seen.requests[0]["headers"]


@pytest.mark.parametrize(
    ("status", "retryable"), [(400, False), (404, False), (408, True), (429, True), (503, True)]
)
def test_webhook_refusals(hook: tuple[str, Hook], status: int, retryable: bool) -> None:
    url, seen = hook
    seen.statuses.append(status)
    with pytest.raises(DeliveryError) as caught:
        WebhookChannel(url, secret=SECRET).send(notices(1)[0])
    assert caught.value.retryable is retryable
    assert f"HTTP {status}" in str(caught.value)
    assert str(caught.value).endswith('{"error": "unknown customer"}')


def test_webhook_outcomes_in_the_outbox(hook: tuple[str, Hook], ws: Workspace) -> None:
    url, seen = hook
    enqueue(ws, notices(4), "webhook")
    seen.statuses += [422, 503, 0, 200]  # refused, try later, hung up, fine
    first = deliver(ws, WebhookChannel(url, secret=SECRET))
    assert (first.sent, first.failed, first.uncertain) == (1, 2, 1)
    second = deliver(ws, WebhookChannel(url, secret=SECRET))  # only the 503 is retried
    assert (second.sent, second.skipped_failed, second.uncertain) == (1, 1, 1)
    keys = Counter(r["headers"]["Idempotency-Key"] for r in seen.requests)
    assert sorted(keys.values()) == [1, 1, 1, 2]


def test_webhook_unreachable_is_retryable() -> None:
    channel = WebhookChannel(f"http://127.0.0.1:{free_port()}/x", timeout=2)
    with pytest.raises(DeliveryError, match="cannot reach the webhook") as caught:
        channel.send(notices(1)[0])
    assert caught.value.retryable


# --- settings -----------------------------------------------------------------------------


def test_channels_from_settings() -> None:
    s = Settings.from_env(
        {
            "CXLOOP_SMTP_HOST": "mail.example.test",
            "CXLOOP_SMTP_PORT": "2525",
            "CXLOOP_SMTP_SECURITY": "STARTTLS",
            "CXLOOP_SMTP_PASSWORD": "hunter2",
            "CXLOOP_WEBHOOK_URL": "https://hooks.example.test/cx",
            "CXLOOP_WEBHOOK_SECRET": SECRET,
        }
    )
    email = channel_from_settings(s, "email")
    assert isinstance(email, SmtpChannel)
    assert (email.where, email.security, email.sender) == (
        "mail.example.test:2525",
        "starttls",
        SENDER,
    )
    webhook = channel_from_settings(s, "webhook")
    assert isinstance(webhook, WebhookChannel) and webhook.secret == SECRET
    assert "hunter2" not in repr(s) and SECRET not in repr(s)
    with pytest.raises(ConfigError, match="CXLOOP_WEBHOOK_URL"):
        channel_from_settings(Settings(), "webhook")
    with pytest.raises(ConfigError, match="expected one of email, webhook"):
        channel_from_settings(s, "sms")


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"CXLOOP_SMTP_PORT": "smtp"}, "setting smtp_port (CXLOOP_SMTP_PORT): expected a port"),
        ({"CXLOOP_SMTP_PORT": "70000"}, "from 1 to 65535, got 70000"),
        ({"CXLOOP_SMTP_SECURITY": "tls"}, "one of none, starttls, ssl, got 'tls'"),
        ({"CXLOOP_WEBHOOK_URL": "hooks.example.test"}, "an http:// or https:// URL"),
    ],
)
def test_bad_channel_settings(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        Settings.from_env(env)


# --- the outbox's state machine -----------------------------------------------------------


def test_outbox_refuses_transitions_the_table_forbids(ws: Workspace) -> None:
    outbox = Outbox(ws.state)
    outbox.enqueue(notices(1), "email")
    key = notices(1)[0].key
    with pytest.raises(PolicyError, match="it is pending, and only sending may"):
        outbox.mark_sent(key, Receipt("email", "x"))
    assert outbox.claim(key) and not outbox.claim(key)
    outbox.mark_sent(key, Receipt("email", "<x@cxloop>"))
    assert not outbox.claim(key, retry_uncertain=True)
    with pytest.raises(NotFoundError):
        outbox.claim("nope")
    assert frozenset({SendStatus.SENT}) == TERMINAL_STATES


OPS = st.lists(
    st.sampled_from(["claim", "retry", "sent", "failed", "fatal", "lost", "recover"]), max_size=12
)


@settings(max_examples=30, deadline=None)
@given(ops=OPS)
def test_outbox_follows_the_transition_table(ops: list[str]) -> None:
    """Any sequence of calls leaves the row where the pure table says, and a sent notice
    is never claimed again."""
    with tempfile.TemporaryDirectory() as tmp:
        outbox = Outbox(StateDB(Path(tmp) / "state.sqlite"))
        (n,) = notices(1)
        outbox.enqueue([n], "email")
        status, retryable = SendStatus.PENDING, True
        for op in ops:
            status, retryable = _apply(outbox, n.key, op, status, retryable)
            (row,) = outbox.rows()
            assert (row.status, row.retryable) == (status, retryable)


def _apply(
    outbox: Outbox, key: str, op: str, status: SendStatus, retryable: bool
) -> tuple[SendStatus, bool]:
    if op in ("claim", "retry"):
        allowed = can_claim(status, retryable=retryable, retry_uncertain=op == "retry")
        assert outbox.claim(key, retry_uncertain=op == "retry") is allowed
        return (SendStatus.SENDING, retryable) if allowed else (status, retryable)
    if op == "recover":
        outbox.recover_interrupted()
        return (SendStatus.UNCERTAIN if status is SendStatus.SENDING else status), retryable
    dst = {"sent": SendStatus.SENT, "lost": SendStatus.UNCERTAIN}.get(op, SendStatus.FAILED)
    if dst not in TRANSITIONS[status]:
        with pytest.raises(PolicyError):
            _mark(outbox, key, op)
        return status, retryable
    _mark(outbox, key, op)
    return dst, (op != "fatal" if dst is SendStatus.FAILED else retryable)


def _mark(outbox: Outbox, key: str, op: str) -> None:
    if op == "sent":
        outbox.mark_sent(key, Receipt("email", "<x@cxloop>"))
    elif op == "lost":
        outbox.mark_uncertain(key, "no reply")
    else:
        outbox.mark_failed(key, "refused", retryable=op != "fatal")


# --- killed mid-send ----------------------------------------------------------------------

SENDER_SCRIPT = """
import sys
from cxloop.notify.smtp import SmtpChannel
from cxloop.services.incidents.sending import deliver
from cxloop.workspace.workspace import Workspace

ws = Workspace.open(sys.argv[1])
deliver(ws, SmtpChannel("127.0.0.1", int(sys.argv[2]), "care@localhost", timeout=5))
"""


def _kill_after(proc: subprocess.Popen[bytes], mailbox: Mailbox, received: int) -> None:
    deadline = time.monotonic() + 15
    while len(mailbox.messages) < received:
        if proc.poll() is not None:
            _, err = proc.communicate()
            pytest.fail(f"the sender exited early ({proc.returncode}): {err.decode()}")
        assert time.monotonic() < deadline, "the sender is too slow"
        time.sleep(0.005)
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate()


def test_killed_sender_never_sends_twice(smtp: SmtpServer, ws: Workspace) -> None:
    batch = notices(30)
    enqueue(ws, batch, "email")
    smtp.mailbox.delay = 0.15
    proc = subprocess.Popen(
        [sys.executable, "-c", SENDER_SCRIPT, str(ws.home), str(smtp.port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    _kill_after(proc, smtp.mailbox, 10)
    assert proc.returncode == -signal.SIGKILL
    smtp.mailbox.delay = 0

    report = deliver(ws, smtp.channel())
    outbox = Outbox(ws.state)
    uncertain = {r.key for r in outbox.rows(status=SendStatus.UNCERTAIN)}
    received = smtp.mailbox.received()
    assert max(received.values()) == 1, "someone was notified twice"
    assert all(n.key in received or n.key in uncertain for n in batch)
    assert len(uncertain) <= 1 and report.recovered == report.uncertain == len(uncertain)
    assert report.failed == 0 and report.total == 30
    assert report.skipped_already_sent >= 9  # recorded by the killed sender before it died
    assert report.sent + report.skipped_already_sent == 30 - len(uncertain)
    assert outbox.summary()[SendStatus.SENT] == 30 - len(uncertain)
    recipients = Counter(rcpt for _, rcpts in smtp.mailbox.envelopes for rcpt in rcpts)
    assert max(recipients.values()) == 1

    retried = deliver(ws, smtp.channel(), retry_uncertain=True)
    assert (retried.sent, retried.uncertain) == (len(uncertain), 0)
    assert smtp.mailbox.received() - received == Counter(uncertain)
    assert outbox.summary()[SendStatus.SENT] == 30
