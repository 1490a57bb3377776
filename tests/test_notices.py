"""Notices in the configured language and brand, saying the right thing for each order's
situation (delivered late, running late, never arrived), on the real Olist export."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

import cxloop
from cxloop.errors import ConfigError
from cxloop.notify.base import Notice
from cxloop.services.incidents import notices, outreach
from cxloop.workspace.workspace import Workspace
from tests.conftest import olist_copy
from tests.test_incidents import _olist_detectors


@pytest.fixture(scope="module")
def olist_rj(
    olist_store: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Path, str]]:
    """An Olist store and its RJ February 2018 late-delivery incident (docs/olist.md)."""
    root = tmp_path_factory.mktemp("olist-notices")
    detectors = root / "olist-detectors.toml"
    detectors.write_text(_olist_detectors())
    with cxloop.open(olist_copy(olist_store, root)) as cx:
        found = outreach.detect_incidents(cx.workspace, detectors=detectors)
    rj = next(i for i in found if i.value == "RJ" and f"{i.window_start:%Y-%m}" == "2018-02")
    yield root / "store", rj.incident_id


def _by_situation(draft: outreach.Draft) -> dict[str, list[Notice]]:
    out: dict[str, list[Notice]] = {}
    for n in draft.notices:
        out.setdefault(str(n.data["situation"]), []).append(n)
    return out


@pytest.mark.olist
def test_an_olist_late_delivery_notice_reads_as_such_in_portuguese(
    olist_rj: tuple[Path, str],
) -> None:
    home, incident = olist_rj
    ws = Workspace.open(home, language="pt", brand="Loja Exemplo", sender="sac@loja.test")
    try:
        draft = outreach.draft(ws, incident)
    finally:
        ws.close()
    cohort = draft.cohort
    late = cohort[cohort.fact == "late"]
    by = _by_situation(draft)
    # every late-delivered order's customer hears "it arrived late", never "running late"
    told_late = {n.customer_id for n in by["delivered_late"]}
    only_late = set(late.customer_id) - set(cohort[cohort.fact != "late"].customer_id)
    assert told_late == only_late and len(told_late) == 41
    # orders never delivered by the end of the export are months overdue: "did not arrive"
    assert {n.customer_id for n in by["not_arrived"]} == set(
        cohort[cohort.fact == "not_fulfilled"].customer_id
    )
    assert "running_late" not in by
    worst = late.sort_values("fact_value").iloc[-1]
    n = next(x for x in by["delivered_late"] if x.customer_id == worst.customer_id)
    days = f"{worst.fact_value / 24:.1f}".replace(".", ",")
    assert n.subject == f"Seu pedido {worst.ref} chegou atrasado - pedimos desculpas"
    assert f"O pedido {worst.ref} chegou {days} dias depois da data prometida." in n.body
    assert n.body.rstrip().endswith("Loja Exemplo\nsac@loja.test")
    assert "nova data" not in n.body and "atrasado e ainda" not in n.body
    gone = by["not_arrived"][0]
    assert gone.subject.startswith("Seu pedido") and "não chegou" in gone.subject
    assert "não chegou: já passaram" in gone.body
    assert n.data["currency"] == "USD"  # the setting's default: Olist's store says BRL


@pytest.mark.olist
def test_english_by_default_signed_neutrally_and_overdue_is_running_late(
    olist_rj: tuple[Path, str],
) -> None:
    home, incident = olist_rj
    ws = Workspace.open(home, notice_lost_after=1e6)  # nothing is ever given up on
    try:
        draft = outreach.draft(ws, incident)
    finally:
        ws.close()
    by = _by_situation(draft)
    assert set(by) == {"delivered_late", "running_late"}
    n = by["delivered_late"][0]
    assert "arrived late" in n.subject and "after the promised date" in n.body
    assert n.body.rstrip().endswith("Customer care\ncare@localhost")
    slow = by["running_late"][0]
    assert "is running late" in slow.subject and "new\ndelivery date" in slow.body


def test_situations_and_numbers() -> None:
    assert notices.situation_of("late", 670.0, 14) == "delivered_late"
    assert notices.situation_of("at_risk", None, 14) == "running_late"
    assert notices.situation_of("not_fulfilled", 14 * 24.0, 14) == "running_late"
    assert notices.situation_of("not_fulfilled", 14 * 24.0 + 1, 14) == "not_arrived"
    assert notices.situation_of("overcharged", 3.0, 14) is None
    assert notices.customer_situation(["delivered_late", None, "not_arrived"]) == "not_arrived"
    pt = notices.load_templates(None, "pt")
    writer = notices.FactWriter(pt, "BRL", 14)
    assert writer.money(12345.6) == "12.345,60 BRL"
    assert writer.sentence("late", "o1", 27.9 * 24, "delivery") == (
        "O pedido o1 chegou 27,9 dias depois da data prometida."
    )
    en = notices.FactWriter(notices.load_templates(None, "en"), "USD", 14)
    assert en.sentence("late", "C-1", 5.0, "callback") == (
        "Our callback promise on C-1 was kept 5 hours late."
    )


def test_a_language_is_added_by_a_templates_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"no built-in notice templates for language 'es' "):
        notices.load_templates(None, "es")
    assert notices.builtin_languages() == ["en", "pt"]
    es = tmp_path / "es.toml"
    es.write_text(
        'language = "es"\nsignature = "Atención al cliente"\n'
        '[facts]\ndelivered_late = "El pedido ${ref} llegó ${late} tarde."\ndays = "${n} días"\n'
        '[promise_breaks]\nsubject = "Sobre ${refs}"\nbody = "${fact}\\n${company}"\n'
    )
    t = notices.load_templates(es, "es")
    w = notices.FactWriter(t, "EUR", 14)
    assert w.sentence("late", "P1", 48.0, "delivery") == "El pedido P1 llegó 2.0 días tarde."
    assert t["facts"]["hours"] == "${n} hours"  # what the file leaves out: built-in English
    bad = tmp_path / "bad.toml"
    bad.write_text('[facts]\nlatte = "x"\n')
    with pytest.raises(ConfigError, match=r"bad.toml: \[facts\] unknown key 'latte'"):
        notices.load_templates(bad)
