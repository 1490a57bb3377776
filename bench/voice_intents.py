"""The intent classifier on Banking77: trained with its defaults on the 10,003 training
texts, scored on the 3,080 test texts, next to the plain reference (frozen MiniLM
embeddings + logistic regression) in the same run.

::

    python -m bench.voice_intents [--data ../shared/data]   # prints JSON
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from pathlib import Path
from typing import Any

DATA = Path(__file__).resolve().parent.parent.parent / "shared" / "data"
TARGET = 0.95
PUBLISHED = {
    "embeddings + linear": 0.93,
    "fine-tuned encoders": 0.938,
    "best reported": 0.949,
}


def banking77(data_dir: Path) -> Path:
    """The Banking77 folder: ``data_dir`` itself or its ``banking77`` subfolder."""
    return data_dir if (data_dir / "train.csv").is_file() else data_dir / "banking77"


def run(data_dir: Path) -> dict[str, Any]:
    """Train with defaults, evaluate, and measure the reference; figures as a dict."""
    import numpy as np
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import f1_score

    from cxloop.text.embed import Embedder
    from cxloop.text.intents import IntentClassifier, evaluate, read_labelled_csv

    folder = banking77(data_dir)
    train_x, train_y = read_labelled_csv(folder / "train.csv", "text", "category")
    test_x, test_y = read_labelled_csv(folder / "test.csv", "text", "category")

    Embedder().encode(["warm up"])  # load the model before timing anything
    model = IntentClassifier()
    started = time.perf_counter()
    model.fit(train_x, train_y)
    train_seconds = time.perf_counter() - started
    report = evaluate(model, test_x, test_y)

    started = time.perf_counter()
    embedder = Embedder()
    reference = LogisticRegression(C=10.0, max_iter=2000)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        reference.fit(embedder.encode(train_x), train_y)
    reference_train = time.perf_counter() - started
    started = time.perf_counter()
    predicted = reference.predict(Embedder().encode(test_x))
    reference_predict = time.perf_counter() - started
    return {
        "train": len(train_x),
        "test": len(test_x),
        "intents": len(set(train_y)),
        "params": model.get_params(),
        "converged": model.converged_,
        "ours": {
            "accuracy": report["accuracy"],
            "macro_f1": report["macro_f1"],
            "train_seconds": train_seconds,
            "predict_seconds": report["seconds"],
            "texts_per_second": len(test_x) / report["seconds"],
        },
        "reference": {
            "accuracy": float(np.mean(predicted == np.asarray(test_y))),
            "macro_f1": float(f1_score(test_y, predicted, average="macro")),
            "train_seconds": reference_train,
            "predict_seconds": reference_predict,
            "texts_per_second": len(test_x) / reference_predict,
        },
        "target": TARGET,
        "published": PUBLISHED,
    }


def section(result: dict[str, Any]) -> list[str]:
    """Markdown lines for docs/benchmarks.md."""
    ours, ref = result["ours"], result["reference"]
    epochs = result["params"]["finetune_epochs"]
    encoder = (
        f"embeddings from MiniLM fine-tuned for {epochs} epoch{'s' * (epochs != 1)}"
        if epochs
        else "frozen MiniLM embeddings"
    )
    met = "Met" if ours["accuracy"] >= result["target"] else "**Not met**"
    published = ", ".join(f"{k} ≈{v:.3f}" for k, v in result["published"].items())
    lines = [
        "### Intents: Banking77",
        "",
        f"{result['train']:,} training texts, {result['test']:,} test texts, "
        f"{result['intents']} intents (the standard split). `IntentClassifier()` with its "
        f"defaults: {encoder} + TF-IDF word 1-2-grams and character 2-5-grams, "
        "multinomial logistic regression. Training seconds include fine-tuning and encoding "
        "the training texts; prediction speed includes encoding the test texts (CPU).",
        "",
        "| model | accuracy | macro-F1 | train s | predict texts/s |",
        "|---|---:|---:|---:|---:|",
    ]
    for label, r in (
        ("cxloop `IntentClassifier()`", ours),
        ("reference: frozen MiniLM embeddings + `LogisticRegression(C=10)`", ref),
    ):
        lines.append(
            f"| {label} | {r['accuracy']:.4f} | {r['macro_f1']:.4f} | "
            f"{r['train_seconds']:.0f} | {r['texts_per_second']:,.0f} |"
        )
    lines += [
        "",
        f"Target: accuracy >= {result['target']:.2f} — {met} ({ours['accuracy']:.4f}). "
        f"Published figures for comparison: {published}.",
        "",
    ]
    return lines


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, default=DATA)
    args = parser.parse_args(argv)
    print(json.dumps(run(args.data), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
