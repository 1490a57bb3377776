"""The intent classifier on small slices of public intent datasets (Banking77, Bitext)."""

from __future__ import annotations

import csv
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest

from cxloop.errors import ConfigError, InputError, MappingError
from cxloop.text.intents import (
    IntentClassifier,
    evaluate,
    fit_csv,
    read_labelled_csv,
    read_texts_csv,
)
from tests.conftest import shared_dataset

INTENTS = 10  # the first ten Banking77 intents, 15 training examples each
PER_INTENT = 15


@pytest.fixture(scope="module")
def banking() -> dict[str, list[str]]:
    folder = shared_dataset("banking77")
    texts, labels = read_labelled_csv(folder / "train.csv", "text", "category")
    keep = list(dict.fromkeys(labels))[:INTENTS]
    seen: dict[str, int] = defaultdict(int)
    train_x, train_y = [], []
    for text, label in zip(texts, labels, strict=True):
        if label in keep and seen[label] < PER_INTENT:
            seen[label] += 1
            train_x.append(text)
            train_y.append(label)
    test_x, test_y = read_labelled_csv(folder / "test.csv", "text", "category")
    pairs = [(t, y) for t, y in zip(test_x, test_y, strict=True) if y in keep]
    return {
        "train_x": train_x,
        "train_y": train_y,
        "test_x": [t for t, _ in pairs],
        "test_y": [y for _, y in pairs],
    }


@pytest.fixture(scope="module")
def model(banking: dict[str, list[str]]) -> IntentClassifier:
    return IntentClassifier(finetune_epochs=0).fit(banking["train_x"], banking["train_y"])


def test_learns_banking77_slice(model: IntentClassifier, banking: dict[str, list[str]]) -> None:
    assert len(banking["train_x"]) == INTENTS * PER_INTENT
    assert model.classes_.tolist() == sorted(set(banking["train_y"]))
    assert model.converged_
    accuracy = model.score(banking["test_x"], banking["test_y"])
    assert accuracy > 0.85, accuracy  # chance is 0.1; a broken feature set falls well below


def test_probabilities_agree_with_predictions(
    model: IntentClassifier, banking: dict[str, list[str]]
) -> None:
    texts = banking["test_x"][:60]
    proba = model.predict_proba(texts)
    assert proba.shape == (60, INTENTS)
    assert np.all(proba >= 0)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-9)
    assert model.predict(texts).tolist() == model.classes_[proba.argmax(axis=1)].tolist()
    assert model.predict([]).shape == (0,)
    assert model.predict_proba([]).shape == (0, INTENTS)


def test_save_load_round_trip(
    model: IntentClassifier, banking: dict[str, list[str]], tmp_path: Path
) -> None:
    texts = banking["test_x"][:80]
    model.save(tmp_path / "intents")
    again = IntentClassifier.load(tmp_path / "intents")
    assert again.classes_.tolist() == model.classes_.tolist()
    assert again.get_params() == model.get_params()
    assert again.predict(texts).tolist() == model.predict(texts).tolist()
    np.testing.assert_allclose(again.predict_proba(texts), model.predict_proba(texts))


def test_load_rejects_what_is_not_a_model(tmp_path: Path) -> None:
    note = tmp_path / "notes.txt"
    note.write_text("hello")
    for path in (note, tmp_path / "absent", tmp_path):
        with pytest.raises(InputError, match="not a cxloop intent model") as info:
            IntentClassifier.load(path)
        assert str(path) in str(info.value)


def test_save_does_not_overwrite_other_folders(model: IntentClassifier, tmp_path: Path) -> None:
    (tmp_path / "data.csv").write_text("a,b\n")
    with pytest.raises(InputError, match="not a cxloop intent model"):
        model.save(tmp_path)
    assert (tmp_path / "data.csv").read_text() == "a,b\n"


def test_fit_rejects_bad_input() -> None:
    clf = IntentClassifier(finetune_epochs=0)
    with pytest.raises(InputError, match="at least 2 distinct labels"):
        clf.fit(["a b", "c d"], ["x", "x"])
    with pytest.raises(InputError, match="no training texts"):
        clf.fit([], [])
    with pytest.raises(InputError, match="2 texts but 1 labels"):
        clf.fit(["a b", "c d"], ["x"])
    with pytest.raises(InputError, match=r"empty training texts.*index 1"):
        clf.fit(["a b", "  ", "e f"], ["x", "y", "x"])
    with pytest.raises(ConfigError, match="not fitted"):
        clf.predict(["anything"])


def test_read_csv_errors_name_file_column_and_row(tmp_path: Path) -> None:
    path = tmp_path / "train.csv"
    path.write_text("message,intent\nwhere is my card,card\n,card\nrefund please,\nhi,greet\n")
    with pytest.raises(MappingError) as info:
        read_labelled_csv(path, "text", "intent")
    message = str(info.value)
    assert str(path) in message and "'text'" in message and "'message'" in message
    with pytest.raises(InputError) as info:
        read_labelled_csv(path, "message", "intent")
    message = str(info.value)
    assert str(path) in message
    assert "row 2: empty 'message'" in message and "row 3: empty 'intent'" in message
    with pytest.raises(InputError, match="cannot read"):
        read_labelled_csv(tmp_path / "absent.csv", "message", "intent")
    assert read_texts_csv(path, "message") == ["where is my card", "", "refund please", "hi"]
    with pytest.raises(MappingError, match="no column 'text'"):
        read_texts_csv(path, "text")


def test_bitext_csv_with_byte_order_mark() -> None:
    folder = shared_dataset("bitext_customer_service")
    texts, labels = read_labelled_csv(
        next(folder.glob("*.csv")), "utterance", "intent"
    )  # the file starts with a BOM before "flags"
    assert len(texts) == len(labels) > 1000
    assert {"cancel_order", "track_order"} <= set(labels)


def test_evaluate_reports_and_counts_unseen_labels(
    model: IntentClassifier, banking: dict[str, list[str]]
) -> None:
    texts = [*banking["test_x"][:50], "how do I open a savings account"]
    labels = [*banking["test_y"][:50], "open_savings"]  # not a label the model knows
    report = evaluate(model, texts, labels)
    assert {"accuracy", "macro_f1", "n", "classes", "per_class", "seconds"} <= report.keys()
    assert report["n"] == 51 and report["texts_per_second"] > 0
    assert report["unseen_labels"] == ["open_savings"]
    unseen = next(c for c in report["per_class"] if c["label"] == "open_savings")
    assert unseen["support"] == 1 and unseen["recall"] == 0.0
    correct = sum(p == y for p, y in zip(model.predict(texts), labels, strict=True))
    assert report["accuracy"] == pytest.approx(correct / 51)
    assert 0 < report["macro_f1"] <= 1


def test_fit_csv_then_evaluate_from_disk(banking: dict[str, list[str]], tmp_path: Path) -> None:
    path = tmp_path / "train.csv"
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["utterance", "label"])
        writer.writerows(zip(banking["train_x"], banking["train_y"], strict=True))
    summary = fit_csv(path, "utterance", "label", tmp_path / "m", finetune_epochs=0)
    assert summary["n"] == INTENTS * PER_INTENT
    assert summary["classes"] == sorted(set(banking["train_y"]))
    assert summary["seconds"] > 0
    loaded = IntentClassifier.load(tmp_path / "m")
    report = evaluate(loaded, banking["test_x"][::4], banking["test_y"][::4])
    assert report["n"] == len(banking["test_x"][::4]) and report["accuracy"] > 0.85


def test_finetuned_encoder_is_saved_with_the_model(
    banking: dict[str, list[str]], tmp_path: Path
) -> None:
    texts, labels = banking["train_x"], banking["train_y"]
    clf = IntentClassifier(finetune_epochs=1, seed=3).fit(texts, labels)
    clf.save(tmp_path / "tuned")
    assert (tmp_path / "tuned" / "encoder").is_dir()
    again = IntentClassifier.load(tmp_path / "tuned")
    sample = banking["test_x"][:40]
    np.testing.assert_allclose(again.predict_proba(sample), clf.predict_proba(sample), atol=1e-6)
    assert clf.score(banking["test_x"][::4], banking["test_y"][::4]) > 0.85
