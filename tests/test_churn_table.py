"""Churn on a customer table: the real IBM HR attrition table, honest validation, a leaky
column refused, hostile tables, and the CLI round trip."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from cxloop.cli.main import app
from cxloop.errors import ConfigError, InputError
from cxloop.services.outcomes import churn_table as ct
from tests.conftest import shared_dataset

SPEC = ct.Spec("EmployeeNumber", "Attrition")


def _ibm() -> Path:
    return shared_dataset("ibm_hr_attrition") / "WA_Fn-UseC_-HR-Employee-Attrition.csv"


@pytest.fixture(scope="module")
def fitted(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, Path]:
    model = tmp_path_factory.mktemp("churn") / "model"
    return ct.fit_file(_ibm(), SPEC, model), model


def _auc(y: np.ndarray, p: np.ndarray) -> float:
    """ROC-AUC as the Mann-Whitney statistic: the chance a leaver outranks a stayer."""
    pos, neg = p[y == 1], p[y == 0]
    wins = (pos[:, None] > neg[None, :]).sum() + 0.5 * (pos[:, None] == neg[None, :]).sum()
    return float(wins / (len(pos) * len(neg)))


def test_ibm_held_out_figures_are_honest(fitted: tuple[dict, Path]) -> None:
    report, model = fitted
    raw = pd.read_csv(_ibm(), encoding="utf-8-sig")
    assert report["rows"] == len(raw) == 1470
    assert report["n"] == 368 and report["train_rows"] == 1102  # a quarter held out
    # stratified: the held-out share of leavers is the table's (237 of 1470)
    assert abs(report["positives"] / report["n"] - (raw["Attrition"] == "Yes").mean()) < 0.01
    assert 0.76 <= report["roc_auc"] <= 0.88, report["roc_auc"]  # published honest: ~0.80-0.85
    assert report["brier"] < report["brier_baseline"]
    assert set(report["dropped"]) == {"EmployeeCount", "Over18", "StandardHours"}
    assert "EmployeeNumber" not in report["features"] and "Attrition" not in report["features"]
    assert report["label_values"] == {"yes": 1, "no": 0}
    manifest = json.loads((model / "manifest.json").read_text())
    assert manifest["id"] == "EmployeeNumber" and manifest["versions"]["scikit-learn"]


def test_saved_model_scores_match_an_independent_computation(fitted: tuple[dict, Path]) -> None:
    _, model = fitted
    rows = ct.predict_file(_ibm(), model)
    raw = pd.read_csv(_ibm(), encoding="utf-8-sig")
    assert sorted(rows["EmployeeNumber"].astype(int)) == sorted(raw["EmployeeNumber"])
    assert rows["probability"].between(0, 1).all()
    assert rows["probability"].is_monotonic_decreasing
    assert rows["reasons"].str.len().gt(0).mean() > 0.9
    merged = rows.assign(EmployeeNumber=rows["EmployeeNumber"].astype(int)).merge(raw)
    y = (merged["Attrition"] == "Yes").to_numpy(int)
    report = ct.evaluate_file(_ibm(), SPEC, model)
    assert report["n"] == 1470 and report["positives"] == 237
    assert report["roc_auc"] == pytest.approx(_auc(y, merged["probability"].to_numpy()), abs=2e-3)
    brier = float(((merged["probability"] - y) ** 2).mean())
    assert report["brier"] == pytest.approx(brier, abs=2e-3)
    bins = report["calibration"]
    assert len(bins) == 10 and bins[-1]["observed"] > bins[0]["observed"]


def test_a_leaky_column_is_refused(tmp_path: Path) -> None:
    raw = pd.read_csv(_ibm(), encoding="utf-8-sig", dtype=str)
    rng = np.random.default_rng(1)
    leaving = raw["Attrition"] == "Yes"
    raw["ExitInterviewDays"] = np.where(leaving, rng.integers(1, 30, len(raw)), 0)
    path = tmp_path / "leaky.csv"
    raw.to_csv(path, index=False)
    with pytest.raises(
        ConfigError, match=r"ExitInterviewDays: alone predicts 'Attrition' with ROC-AUC 1\.000"
    ):
        ct.evaluate_file(path, SPEC)
    raw = raw.drop(columns="ExitInterviewDays").assign(attrition_flag=rng.random(len(raw)))
    raw.to_parquet(path.with_suffix(".parquet"))
    with pytest.raises(ConfigError, match="attrition_flag: named like the label"):
        ct.evaluate_file(path.with_suffix(".parquet"), SPEC)


def _table(tmp_path: Path, df: pd.DataFrame) -> Path:
    path = tmp_path / "t.csv"
    df.to_csv(path, index=False)
    return path


def test_hostile_tables(tmp_path: Path) -> None:
    base = pd.DataFrame({"id": range(40), "plan": ["a", "b"] * 20, "spend": range(40)})
    one = _table(tmp_path, base.assign(churn="No"))
    with pytest.raises(ConfigError, match="one value only"):
        ct.evaluate_file(one, ct.Spec("id", "churn"))
    odd = _table(tmp_path, base.assign(churn=["maybe", "perhaps"] * 20))
    with pytest.raises(ConfigError, match="cannot tell which of 'maybe', 'perhaps' means churned"):
        ct.evaluate_file(odd, ct.Spec("id", "churn"))
    three = _table(tmp_path, base.assign(churn=["yes", "no", "later", "no"] * 10))
    with pytest.raises(ConfigError, match="3 values"):
        ct.evaluate_file(three, ct.Spec("id", "churn"))
    blank = _table(
        tmp_path, pd.DataFrame({"id": range(40), "churn": ["yes", "no"] * 20, "x": [""] * 40})
    )
    with pytest.raises(ConfigError, match="no usable feature columns"):
        ct.evaluate_file(blank, ct.Spec("id", "churn"))
    dup = _table(tmp_path, base.assign(churn=["yes", "no"] * 20, id=[*range(39), 5]))
    with pytest.raises(InputError, match=r"row 40, field 'id': id '5' repeats row 6"):
        ct.evaluate_file(dup, ct.Spec("id", "churn"))
    gap = base.assign(churn=["yes", "no"] * 20).astype(str)
    gap.loc[7, "churn"] = " "
    with pytest.raises(InputError, match=r"t.csv: row 8, field 'churn': blank label"):
        ct.evaluate_file(_table(tmp_path, gap), ct.Spec("id", "churn"))
    with pytest.raises(InputError, match="no column 'left'"):
        ct.evaluate_file(one, ct.Spec("id", "left"))


def test_a_model_made_for_other_columns_is_refused(
    fitted: tuple[dict, Path], tmp_path: Path
) -> None:
    _, model = fitted
    raw = pd.read_csv(_ibm(), encoding="utf-8-sig").drop(columns=["OverTime"])
    with pytest.raises(ConfigError, match="made for other columns; this table lacks 'OverTime'"):
        ct.predict_file(_table(tmp_path, raw), model)


def test_cli_fit_predict_with_blanks_and_a_time_split(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    n = 400
    spend = rng.gamma(2, 50, n)
    plan = rng.choice(["basic", "plus", "pro"], n)
    left = rng.random(n) < 1 / (1 + np.exp((spend - 80) / 30 + (plan == "pro")))
    df = pd.DataFrame(
        {
            "customer": [f"c{i}" for i in range(n)],
            "spend": np.where(rng.random(n) < 0.1, "", spend.round(2).astype(str)),
            "plan": np.where(rng.random(n) < 0.1, None, plan),
            "signup": pd.date_range("2023-01-01", periods=n, freq="D").astype(str),
            "churned": np.where(left, "churned", "stayed"),
        }
    )
    table = tmp_path / "customers.parquet"
    df.to_parquet(table)
    runner = CliRunner()
    res = runner.invoke(
        app,
        [
            "outcomes",
            "churn",
            "evaluate",
            str(table),
            "--id",
            "customer",
            "--label",
            "churned",
            "--time",
            "signup",
            "--format",
            "json",
        ],
    )
    assert res.exit_code == 0, res.output
    report = json.loads(res.output)
    assert report["validation"].startswith("time split on 'signup'") and report["n"] == 100
    assert report["roc_auc"] > 0.7 and "signup" not in report["features"]
    assert report["label_values"] == {"churned": 1, "stayed": 0}
    model, out = tmp_path / "m", tmp_path / "risk.csv"
    res = runner.invoke(
        app,
        [
            "outcomes",
            "churn",
            "fit",
            str(table),
            "--id",
            "customer",
            "--label",
            "churned",
            "--model",
            str(model),
        ],
    )
    assert res.exit_code == 0, res.output
    res = runner.invoke(
        app, ["outcomes", "churn", "predict", str(table), "--model", str(model), "--out", str(out)]
    )
    assert res.exit_code == 0, res.output
    risk = pd.read_csv(out)
    assert len(risk) == n and set(risk["customer"]) == set(df["customer"])
