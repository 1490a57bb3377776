"""The organization's own vocabulary: score metrics with their scales, the data's currency
(docs/voice.md, docs/settings.md, docs/policy.md)."""

from __future__ import annotations

import csv
from pathlib import Path

import pandas as pd
import pytest

import cxloop
from cxloop.domain.scores import scales_from_dict
from cxloop.errors import ConfigError
from cxloop.settings import Settings
from cxloop.workspace.metrics import load_metrics
from tests.conftest import shared_dataset

HR_METRICS = """
[pulse]
label = "job satisfaction mean (1-4)"
low = 1
high = 4
headline = "mean"
top = 3
bottom = 2
"""


def _hr_survey(path: Path, extra: list[dict[str, str]] | None = None) -> pd.DataFrame:
    """The IBM HR survey's job satisfaction answers (1-4), one pulse answer per employee,
    in the canonical columns; ``extra`` rows are appended as they are."""
    raw = pd.read_csv(
        shared_dataset("ibm_hr_attrition") / "WA_Fn-UseC_-HR-Employee-Attrition.csv",
        encoding="utf-8-sig",
    )
    rows = [
        {
            "event_id": f"hr-{r.EmployeeNumber}",
            "customer_id": f"E{r.EmployeeNumber}",
            "event_type": "employee_feedback",
            "ts": "2024-06-01T09:00:00Z",
            "attrs": f'{{"metric": "pulse", "score": {r.JobSatisfaction}, "survey": "hr"}}',
        }
        for r in raw.itertuples()
    ]
    with path.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows + (extra or []))
    return raw


def test_a_1_to_4_pulse_metric_scores_on_its_own_scale(tmp_path: Path) -> None:
    metrics = tmp_path / "metrics.toml"
    metrics.write_text(HR_METRICS)
    raw = _hr_survey(tmp_path / "hr.csv")
    with cxloop.open(tmp_path / "store", metrics=metrics) as cx:
        report = cx.ingest(tmp_path / "hr.csv")
        assert (report.rows_read, report.events_new, report.rows_quarantined) == (1470, 1470, 0)
        v = cx.voice()
        row = v.scores(metric="pulse").iloc[0]
        assert row["headline"] == "job satisfaction mean (1-4)"
        assert row["n"] == 1470
        assert row["value"] == pytest.approx(raw.JobSatisfaction.mean())
        assert row["top_share"] == pytest.approx((raw.JobSatisfaction >= 3).mean())
        assert row["bottom_share"] == pytest.approx((raw.JobSatisfaction <= 2).mean())
        assert 1 <= row["ci_low"] < row["value"] < row["ci_high"] <= 4
        norm = v.frame.set_index("customer_id")["norm"]
        top = raw.loc[raw.JobSatisfaction == 4, "EmployeeNumber"].iloc[0]
        bottom = raw.loc[raw.JobSatisfaction == 1, "EmployeeNumber"].iloc[0]
        assert norm[f"E{top}"] == 100.0 and norm[f"E{bottom}"] == 0.0  # 4 is the top here


def test_an_answer_outside_the_configured_scale_is_quarantined_naming_it(tmp_path: Path) -> None:
    metrics = tmp_path / "metrics.toml"
    metrics.write_text(HR_METRICS)
    bad = [
        {
            "event_id": f"hr-bad-{i}",
            "customer_id": "E-bad",
            "event_type": "employee_feedback",
            "ts": "2024-06-01T09:00:00Z",
            "attrs": f'{{"metric": "pulse", "score": {score}}}',
        }
        for i, score in enumerate(("5", '"lots"'))
    ]
    _hr_survey(tmp_path / "hr.csv", bad)
    with cxloop.open(tmp_path / "store", metrics=metrics) as cx:
        report = cx.ingest(tmp_path / "hr.csv")
        assert (report.events_new, report.rows_quarantined) == (1470, 2)
        reasons = {p.row: (p.field, p.reason) for p in report.problems}
        assert reasons[1471] == (
            "attrs.score",
            "score 5 is outside the pulse scale 1-4 (metrics file metrics.toml)",
        )
        assert "not a number on the pulse scale 1-4" in reasons[1472][1]
        assert cx.voice().scores(metric="pulse").iloc[0]["n"] == 1470
    with cxloop.open(tmp_path / "builtin") as cx:  # the built-in pulse is 1-5: a 5 is fine
        report = cx.ingest(tmp_path / "hr.csv")
        assert (report.events_new, report.rows_quarantined) == (1471, 1)


def test_a_metrics_file_mistake_names_file_metric_and_field(tmp_path: Path) -> None:
    bad = tmp_path / "m.toml"
    bad.write_text("[pulse]\nlow = 1\nhigh = 4\ntop = 5\nbottom = 2\n")
    with pytest.raises(ConfigError, match=r"m.toml: metric 'pulse': expected low <= bottom"):
        load_metrics(bad)
    with pytest.raises(ConfigError, match=r"metric 'x', field 'high': expected a number"):
        scales_from_dict({"x": {"low": 1, "high": "ten", "top": 2, "bottom": 1}}, "f")
    with pytest.raises(ConfigError, match=r"field 'headline': expected one of net, share, mean"):
        scales_from_dict({"x": {"low": 1, "high": 4, "top": 3, "bottom": 2, "headline": "x"}}, "f")
    scales = load_metrics(None)
    assert (scales["pulse"].low, scales["pulse"].high, scales["nps"].headline) == (1, 5, "net")


def test_vocabulary_settings_are_checked() -> None:
    s = Settings.from_env({}, currency="brl", language="PT", brand=" Loja ")
    assert (s.currency, s.language, s.brand, s.sender) == ("BRL", "pt", "Loja", "")
    assert Settings.from_env({}).currency == "USD"  # a default, not the data's
    with pytest.raises(ConfigError, match=r"setting currency \(CXLOOP_CURRENCY\): expected a 3"):
        Settings.from_env({}, currency="reais")
    with pytest.raises(ConfigError, match="notice_lost_after"):
        Settings.from_env({}, notice_lost_after="-1")


def test_a_policy_in_another_currency_than_the_data_is_refused(tmp_path: Path) -> None:
    from importlib import resources

    with (
        cxloop.open(tmp_path / "store", currency="BRL") as cx,
        pytest.raises(ConfigError) as refused,
    ):
        _ = cx.policy
    message = str(refused.value)
    assert message.startswith("built-in policy: the policy's amounts are in USD")
    assert "the data's currency is BRL (setting currency, CXLOOP_CURRENCY)" in message
    text = resources.files("cxloop.rules").joinpath("policy.toml").read_text("utf-8")
    brl = tmp_path / "policy-brl.toml"
    brl.write_text(text.replace('currency = "USD"', 'currency = "BRL"'))
    with cxloop.open(tmp_path / "store", currency="BRL", policy=brl) as cx:
        assert cx.policy.currency == "BRL"
    usd = cxloop.open(tmp_path / "store", policy=brl)  # the default currency is USD
    with usd as cx, pytest.raises(ConfigError, match="policy's amounts are in BRL"):
        _ = cx.policy


def test_undeclared_metrics_are_accepted_or_refused_as_configured(tmp_path: Path) -> None:
    data = tmp_path / "answers.csv"
    data.write_text(
        "customer_id,event_type,ts,attrs\n"
        'c1,survey_response,2024-01-01T00:00:00Z,"{""metric"": ""nps"", ""score"": 9}"\n'
        'c2,survey_response,2024-01-01T00:00:00Z,"{""metric"": ""joy"", ""score"": 3}"\n'
        'c3,survey_response,2024-01-01T00:00:00Z,"{""score"": 3}"\n'
    )
    with cxloop.open(tmp_path / "a") as cx:
        assert cx.ingest(data).rows_quarantined == 0
    with cxloop.open(tmp_path / "r", unknown_metrics="refuse") as cx:
        report = cx.ingest(data)
    reasons = {p.row: (p.field, p.reason) for p in report.problems}
    assert report.events_new == 1 and set(reasons) == {2, 3}
    assert reasons[2][0] == "attrs.metric"
    assert reasons[2][1].startswith(
        "metric 'joy' is not declared (declared: nps, enps, csat, review, ces, pulse, likert4; "
        "built-in metrics; unknown_metrics = refuse)"
    )
    assert reasons[3][1].startswith("a score without a metric (declared: nps,")
