"""`cxloop voice …` end to end on a copy of the demo store: each test's first command in a
real process as a user runs it, the further ones through the same entry point in this
process (:func:`tests.test_cli.run_here`: no fresh interpreter and model load each)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest

from tests.conftest import shared_dataset
from tests.test_cli import run, run_here


@pytest.fixture(scope="module")
def home(demo_store: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("voice-cli") / "store"
    shutil.copytree(demo_store, target)
    return target


def test_scores_json_and_table(home: Path) -> None:
    rows = json.loads(run(home, "voice", "scores", "--by", "month", "--format", "json").stdout)
    assert {"month", "metric", "n", "value", "ci_low", "ci_high", "change", "change_p"} <= set(
        rows[0]
    )
    assert all(r["ci_low"] <= r["value"] <= r["ci_high"] for r in rows if r["n"] > 1)
    table = run_here(home, "voice", "scores", "--by", "channel").stdout
    assert "NPS" in table and "95% interval" in table
    bad = run_here(home, "voice", "scores", "--by", "planet", check=False)
    assert bad.returncode == 1 and "cannot group scores by 'planet'" in bad.stderr


def test_topics_emerging_drivers_compare(home: Path) -> None:
    topics = json.loads(run(home, "voice", "topics", "--format", "json").stdout)
    assert topics["k"] == len(topics["topics"]) and topics["topics"][0]["examples"]
    emerging = json.loads(run_here(home, "voice", "emerging", "--format", "json").stdout)
    assert "exact binomial" in emerging["method"] and emerging["latest"]["texts"] > 0
    assert all({"p", "q", "lift", "kind"} <= set(t) for t in emerging["tests"])
    drivers = json.loads(run_here(home, "voice", "drivers", "--format", "json").stdout)
    names = [d["driver"] for d in drivers["drivers"]]
    assert "broken delivery promise" in names
    compare = run_here(home, "voice", "compare").stdout
    assert "What customers say and what employees say" in compare
    assert "Callbacks we promise" in compare and "employee:" in compare
    sentiment = json.loads(run_here(home, "voice", "sentiment", "--format", "json").stdout)
    models = {r["event_type"]: r["model"] for r in sentiment["summary"]}
    assert models["employee_feedback"].startswith("lexicon")
    assert len(sentiment["most_negative"]) == 10
    late = run_here(home, "voice", "emerging", "--period", "soon", check=False)
    assert late.returncode == 2 and "--period" in late.stderr


def test_intents_fit_evaluate_predict_on_a_labelled_csv(tmp_path: Path) -> None:
    data = shared_dataset("bitext_customer_service")
    frame = pd.read_csv(next(data.glob("*.csv")))
    frame = frame.sample(frac=1.0, random_state=0).groupby("intent").head(40)
    train = frame.sample(frac=0.7, random_state=1)
    test = frame.drop(train.index)
    train.to_csv(tmp_path / "train.csv", index=False)
    test.to_csv(tmp_path / "test.csv", index=False)
    model = tmp_path / "intents.model"
    home = tmp_path / "unused"
    opts = ["--text", "utterance", "--label", "intent", "--model", str(model)]
    run(
        home,
        "voice",
        "intents",
        "fit",
        str(tmp_path / "train.csv"),
        *opts,
        "--finetune-epochs",
        "0",
    )
    result = json.loads(
        run_here(
            home,
            "voice",
            "intents",
            "evaluate",
            str(tmp_path / "test.csv"),
            *opts,
            "--format",
            "json",
        ).stdout
    )
    assert result["n"] == len(test) and result["accuracy"] > 0.85 and result["macro_f1"] > 0.8
    predicted = json.loads(
        run_here(
            home,
            "voice",
            "intents",
            "predict",
            str(tmp_path / "test.csv"),
            "--text",
            "utterance",
            "--model",
            str(model),
            "--format",
            "json",
        ).stdout
    )
    assert len(predicted) == len(test) and 0 < predicted[0]["probability"] <= 1
    missing = run_here(
        home,
        "voice",
        "intents",
        "evaluate",
        str(tmp_path / "test.csv"),
        "--text",
        "body",
        "--label",
        "intent",
        "--model",
        str(model),
        check=False,
    )
    assert missing.returncode == 1 and "test.csv" in missing.stderr and "body" in missing.stderr
