"""Proactive outreach end to end: detect on the demo company, draft, and send to a real SMTP
server and a real webhook receiver on loopback; a customer is notified once per incident."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

import cxloop
from cxloop.errors import ConfigError
from cxloop.notify.webhook import WebhookChannel
from cxloop.services.incidents import outreach
from tests.conftest import demo_copy
from tests.test_cli import run, run_here
from tests.test_notify import SECRET, Hook, SmtpServer, hook, smtp

__all__ = ["hook", "smtp"]  # pytest fixtures used below


@pytest.fixture
def cx(demo_store: Path, tmp_path: Path) -> cxloop.Cxloop:
    with cxloop.open(demo_copy(demo_store, tmp_path)) as handle:
        yield handle


def _incident(cx: cxloop.Cxloop, detector: str) -> str:
    found = outreach.detect_incidents(cx.workspace)
    return next(i.incident_id for i in found if i.detector == detector)


def test_the_overcharged_cohort_gets_one_mail_each_even_if_they_never_complained(
    cx: cxloop.Cxloop, smtp: SmtpServer
) -> None:
    inc = _incident(cx, "billing_deviation_by_run")
    draft = outreach.draft(cx.workspace, inc)
    summary = draft.summary()
    assert summary["customers"] == 41 and summary["with_address"] == 41
    assert summary["not_yet_complained"] > 0
    queued, report = outreach.send(cx.workspace, inc, smtp.channel())
    assert (queued, report.sent, report.failed, report.uncertain) == (41, 41, 0, 0)
    to = Counter(rcpt for _, rcpts in smtp.mailbox.envelopes for rcpt in rcpts)
    assert len(to) == 41 and set(to.values()) == {1}
    mail = smtp.mailbox.messages[0]
    assert mail["Subject"].startswith("We charged you too much on O-")
    assert "too much" in mail.get_content() and "BR-20261006" in mail.get_content()

    again, second = outreach.send(cx.workspace, inc, smtp.channel())
    assert (again, second.sent, second.skipped_already_sent) == (0, 0, 41)
    _, by_hook = outreach.send(
        cx.workspace, inc, WebhookChannel("http://127.0.0.1:9/unused", timeout=1)
    )
    assert by_hook.total == 0  # already notified by e-mail: never a second notice
    assert len(smtp.mailbox.messages) == 41
    statuses = Counter(r["status"] for r in outreach.send_status(cx.workspace, inc))
    assert statuses == {"sent": 41}
    ev = cx.events()
    told = ev.filter(ev.event_type == "notice_sent").execute()
    assert len(told) == 41 and set(told.ref) == {inc}  # once each, re-sends added none
    customer = draft.notices[0].customer_id
    assert "notice_sent" in set(cx.timeline(customer).event_type)


def test_late_delivery_cohort_is_posted_to_a_signed_webhook(
    cx: cxloop.Cxloop, hook: tuple[str, Hook]
) -> None:
    url, seen = hook
    inc = _incident(cx, "late_deliveries_by_carrier_region")
    draft = outreach.draft(cx.workspace, inc)
    _, report = outreach.send(cx.workspace, inc, WebhookChannel(url, secret=SECRET))
    assert report.sent == len(draft.notices) == len(seen.requests)
    assert all(r["verified"] for r in seen.requests)
    body = seen.requests[0]["json"]
    assert body["incident_id"] == inc and body["data"]["kind"] == "promise_breaks"
    assert "Meridian Freight / southeast" in body["body"]
    keys = {r["headers"]["Idempotency-Key"] for r in seen.requests}
    assert keys == {n.key for n in draft.notices}


def test_a_template_with_an_unknown_placeholder_is_a_clear_error(
    cx: cxloop.Cxloop, tmp_path: Path
) -> None:
    inc = _incident(cx, "missing_parts_by_sku")
    bad = tmp_path / "notices.toml"
    bad.write_text('[contact_spike]\nsubject = "Hi $name"\nbody = "x"\n')
    with pytest.raises(ConfigError, match=r"\[contact_spike\] subject: unknown placeholder \$name"):
        outreach.draft(cx.workspace, inc, bad)
    good = tmp_path / "good.toml"
    good.write_text('[contact_spike]\nsubject = "About ${refs}"\nbody = "${fact}"\n')
    notices = outreach.draft(cx.workspace, inc, good).notices
    assert notices and all(n.subject.startswith("About O-") for n in notices)


def test_cli_detect_preview_and_send(demo_store: Path, tmp_path: Path, smtp: SmtpServer) -> None:
    home = demo_copy(demo_store, tmp_path)
    env = {"CXLOOP_SMTP_PORT": str(smtp.port), "CXLOOP_SMTP_SENDER": "care@northwind.example"}
    started: list[str] = []

    def cli(*args: str) -> str:
        """The first command as a user runs it (a process), the further ones in this
        process through the same entry point (tests.test_cli.run_here)."""
        how = run_here if started else run
        started.append(args[0])
        return how(home, "outreach", *args, env=env).stdout

    found = json.loads(cli("detect", "--format", "json"))
    billing = next(i for i in found if i["detector"] == "billing_deviation_by_run")
    assert "exact binomial" in billing["method"]
    preview = json.loads(cli("preview", billing["incident_id"], "--format", "json"))
    assert preview["customers"] == len(preview["notices"]) == 41
    assert smtp.mailbox.messages == []  # a preview sends nothing
    sent = json.loads(cli("send", billing["incident_id"], "--format", "json"))
    assert (sent["queued_new"], sent["sent"], sent["total"]) == (41, 41, 41)
    assert len(smtp.mailbox.messages) == 41
    assert "sent" in cli("status", billing["incident_id"])


def test_overlapping_incidents_never_tell_a_customer_twice_about_one_order(
    cx: cxloop.Cxloop, hook: tuple[str, Hook]
) -> None:
    url, seen = hook
    found = outreach.detect_incidents(cx.workspace)
    carrier = next(i for i in found if i.detector == "late_deliveries_by_carrier_region")
    region = next(
        i
        for i in found
        if i.detector == "late_deliveries_by_region"
        and i.value == "southeast"
        and i.window_start == carrier.window_start
    )
    channel = WebhookChannel(url)
    _, first = outreach.send(cx.workspace, carrier.incident_id, channel)
    _, second = outreach.send(cx.workspace, region.incident_id, channel)
    told = Counter(
        (r["json"]["customer_id"], ref) for r in seen.requests for ref in r["json"]["data"]["refs"]
    )
    assert max(told.values()) == 1
    whole_region = len(outreach.draft(cx.workspace, region.incident_id).notices)
    assert first.sent > 0 and 0 < second.sent < whole_region
