"""``cxloop voice …``: what customers and employees say — scores, sentiment, topics, emerging
issues, key drivers, the two side by side, and intent models."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import pandas as pd
import typer

from cxloop import client
from cxloop.cli.export import OutOpt, ReportFormat, ReportFormatOpt, export
from cxloop.cli.render import (
    COMPARE_COLUMNS,
    COMPARE_PERCENT,
    Format,
    emit_json,
    make_console,
    records,
    table,
)
from cxloop.domain.promises import parse_duration
from cxloop.errors import ConfigError

if TYPE_CHECKING:
    from cxloop import Voice

voice_app = typer.Typer(
    no_args_is_help=True,
    help="Voice of the customer and of the employee: scores, sentiment, topics, emerging "
    "issues, drivers, side-by-side comparison, intent models.",
)
intents_app = typer.Typer(
    no_args_is_help=True, help="Intent classification trained on any labelled CSV."
)
voice_app.add_typer(intents_app, name="intents")

HomeOpt = Annotated[
    Path | None,
    typer.Option("--home", envvar="CXLOOP_HOME", help="Store directory (default ./.cxloop)."),
]
FormatOpt = Annotated[Format, typer.Option("--format", "-f", help="table or json.")]
SentimentOpt = Annotated[
    str,
    typer.Option(
        "--sentiment",
        help="auto (learned from your ratings where there are 200+, else the lexicon), "
        "learned or lexicon.",
    ),
]
KOpt = Annotated[
    int | None, typer.Option("--k", min=2, help="Number of topics (default: chosen by silhouette).")
]
TextOpt = Annotated[str, typer.Option("--text", help="The column holding the text.")]
LabelOpt = Annotated[str, typer.Option("--label", help="The column holding the intent label.")]
ModelOpt = Annotated[Path, typer.Option("--model", help="Where the model is (to be) saved.")]


@contextmanager
def _voice(
    home: Path | None, sentiment: str = "auto", k: int | None = None
) -> Iterator[tuple[client.Cxloop, Voice]]:
    """The library and a Voice whose long steps show on stderr (a spinner with the current
    step)."""
    err = make_console(stderr=True)
    with client.open(home) as cx, err.status("reading the voice rows…") as status:

        def progress(message: str) -> None:
            status.update(message)

        yield cx, cx.voice(sentiment=sentiment, k=k, progress=progress)


def _duration(option: str, text: str) -> timedelta:
    try:
        return parse_duration(text)
    except (ConfigError, ValueError) as exc:
        raise typer.BadParameter(str(exc), param_hint=option) from None


@voice_app.command()
def scores(
    home: HomeOpt = None,
    by: Annotated[
        str | None,
        typer.Option("--by", help="week, month, department, channel, stage, survey or voice."),
    ] = None,
    metric: Annotated[
        str | None,
        typer.Option("--metric", help="nps, csat, ces, review, enps, pulse, or a metric of yours."),
    ] = None,
    who: Annotated[
        str | None, typer.Option("--voice", help="customer or employee (default both).")
    ] = None,
    since: Annotated[
        datetime | None, typer.Option("--since", help="Answers from this date.")
    ] = None,
    fmt: ReportFormatOpt = ReportFormat.TABLE,
    dest: OutOpt = None,
) -> None:
    """NPS, CSAT, CES, review stars (and employees' eNPS) with counts, 95% intervals, trends."""
    with _voice(home) as (_cx, v):
        df = v.scores(by=by, metric=metric, voice=who, since=since)
    if export(make_console(), fmt, dest, df, records(df)):
        return
    out = make_console()
    if df.empty:
        out.print("No scored answers.")
        return
    cols = [
        c
        for c in (
            by,
            "metric",
            "headline",
            "n",
            "value",
            "ci_low",
            "ci_high",
            "mean",
            "change",
            "change_p",
        )
        if c and c in df
    ]
    table(out, "Scores (value with its 95% interval)", df, cols)


@voice_app.command()
def sentiment(
    home: HomeOpt = None,
    model: SentimentOpt = "auto",
    fmt: ReportFormatOpt = ReportFormat.TABLE,
    dest: OutOpt = None,
) -> None:
    """Sentiment per text, summarised by source; the most negative texts of the last 30 days."""
    with _voice(home, sentiment=model) as (_cx, v):
        rows = v.frame.join(v.sentiment, how="inner")
        check = v.sentiment_check
        choice = v.sentiment_choice
    if rows.empty:
        empty: dict[str, list[Any]] = {"summary": [], "most_negative": []}
        if not export(make_console(), fmt, dest, pd.DataFrame(), empty):
            make_console().print("No texts (surveys, reviews, contacts, employee comments).")
        return
    summary = (
        rows.groupby(["voice", "event_type", "model"])["sentiment"]
        .value_counts(normalize=True)
        .unstack(fill_value=0.0)
        .reindex(columns=["negative", "neutral", "positive"], fill_value=0.0)
        .join(rows.groupby(["voice", "event_type", "model"]).size().rename("texts"))
        .reset_index()
    )
    worst = client.Cxloop.voice_most_negative(rows)[
        ["ts", "voice", "event_type", "customer_id", "polarity", "text"]
    ]
    payload = {
        "summary": records(summary),
        "held_out": check,
        "choice": choice,
        "most_negative": records(worst),
    }
    if export(make_console(), fmt, dest, summary, payload):
        return
    out = make_console()
    table(
        out,
        "Sentiment by source",
        summary,
        ["voice", "event_type", "texts", "negative", "neutral", "positive", "model"],
        percent=["negative", "neutral", "positive"],
    )
    if check:
        out.print(
            f"Learned sentiment, held out ({check['folds']} folds, each rated text scored by a "
            f"model not trained on it): accuracy {check['held_out_accuracy']:.1%}, macro-F1 "
            f"{check['held_out_macro_f1']:.3f} on {check['rated_texts']:,} rated texts",
            highlight=False,
        )
    if choice:
        out.print(f"Model (--sentiment auto): {choice['why']}", highlight=False)
    table(out, "Most negative in the last 30 days", worst)


@voice_app.command()
def topics(
    home: HomeOpt = None,
    k: KOpt = None,
    model: SentimentOpt = "auto",
    fmt: ReportFormatOpt = ReportFormat.TABLE,
    dest: OutOpt = None,
) -> None:
    """Topics and pain points found in customers' texts (MiniLM embeddings + k-means)."""
    with _voice(home, sentiment=model, k=k) as (_cx, v):
        df = v.topics()
    if export(make_console(), fmt, dest, df, {**df.attrs, "topics": records(df)}):
        return
    out = make_console()
    shown = df.assign(example=df["examples"].map(lambda e: e[0] if e else ""))
    table(
        out,
        f"{df.attrs['k']} topics in {df.attrs['texts']:,} customer texts"
        + (
            f" ({df.attrs['k_found']} clusters, near-duplicates merged)"
            if df.attrs.get("k_found", 0) > df.attrs["k"]
            else ""
        ),
        shown,
        [
            "topic",
            "label",
            "texts",
            "share",
            "customers",
            "negative_share",
            "mean_score",
            "example",
        ],
        percent=["share", "negative_share"],
    )


@voice_app.command()
def emerging(
    home: HomeOpt = None,
    period: Annotated[str, typer.Option("--period", help="The latest period.")] = "28d",
    baseline: Annotated[
        str, typer.Option("--baseline", help="The baseline before it, or 'all'.")
    ] = "168d",
    as_of: Annotated[
        datetime | None,
        typer.Option("--as-of", help="End of the latest period (default: the store's clock)."),
    ] = None,
    k: KOpt = None,
    model: SentimentOpt = "auto",
    fmt: ReportFormatOpt = ReportFormat.TABLE,
    dest: OutOpt = None,
) -> None:
    """Topics whose volume or negativity rose significantly (exact binomial test, BH FDR)."""
    span = _duration("--period", period)
    base = None if baseline == "all" else _duration("--baseline", baseline)
    with _voice(home, sentiment=model, k=k) as (cx, v):
        df = cx.voice_emerging(span, base, voice=v, as_of=as_of)
    if export(make_console(), fmt, dest, df, {**df.attrs, "tests": records(df)}):
        return
    out = make_console()
    hits = df[df["emerging"]] if "emerging" in df else df
    latest = df.attrs["latest"]
    if hits.empty:
        out.print(f"No emerging issue in the {latest['texts']} texts since {latest['from'][:10]}.")
    else:
        table(
            out,
            f"Emerging issues since {latest['from'][:10]} ({latest['texts']} texts)",
            hits.assign(example=hits["examples"].map(lambda e: e[0] if e else "")),
            [
                "label",
                "kind",
                "latest_texts",
                "latest_rate",
                "baseline_rate",
                "lift",
                "q",
                "example",
            ],
            percent=["latest_rate", "baseline_rate"],
        )
    out.print(df.attrs["method"], highlight=False)


@voice_app.command()
def drivers(
    home: HomeOpt = None,
    metric: Annotated[
        str | None, typer.Option("--metric", help="nps, csat, ces or review (default all).")
    ] = None,
    top: Annotated[int, typer.Option("--top", help="Rows to show.")] = 15,
    k: KOpt = None,
    fmt: ReportFormatOpt = ReportFormat.TABLE,
    dest: OutOpt = None,
) -> None:
    """Which topics and promise outcomes move the scores, with effect sizes."""
    with _voice(home, k=k) as (cx, v):
        df = cx.voice_drivers(metric, voice=v)
    if export(make_console(), fmt, dest, df, {**df.attrs, "drivers": records(df)}):
        return
    out = make_console()
    table(
        out,
        f"Key drivers of the score ({df.attrs['answers']:,} answers, mean "
        f"{df.attrs['mean']:.1f} of 100)",
        df.head(top),
        [
            "driver",
            "answers_with",
            "mean_with",
            "mean_without",
            "difference",
            "cohens_d",
            "coefficient",
            "p",
            "impact",
        ],
    )
    out.print(df.attrs["method"], highlight=False)


@voice_app.command()
def compare(
    home: HomeOpt = None,
    subjects: Annotated[
        Path | None, typer.Option("--subjects", help="Subjects (TOML); default built-in.")
    ] = None,
    fmt: ReportFormatOpt = ReportFormat.TABLE,
    dest: OutOpt = None,
) -> None:
    """Per policy, practice, product or service: what customers say, what employees say."""
    with _voice(home) as (cx, v):
        df = cx.voice_compare(subjects, voice=v)
    if export(make_console(), fmt, dest, df, {**df.attrs, "subjects": records(df)}):
        return
    out = make_console()
    table(
        out,
        "What customers say and what employees say",
        df,
        [COMPARE_COLUMNS[0], "department", *COMPARE_COLUMNS[1:]],
        percent=COMPARE_PERCENT,
    )
    for row in df.itertuples():
        if row.customers_texts or row.employees_texts:
            said = [f"customer: {t}" for t in row.customers_examples] + [
                f"employee: {t}" for t in row.employees_examples
            ]
            out.print(f"[bold]{row.title}[/]: " + " | ".join(said), highlight=False)


# ------------------------------------------------------------------ intents
@intents_app.command("fit")
def intents_fit(
    train: Annotated[Path, typer.Argument(help="Labelled CSV to learn from.")],
    text: TextOpt,
    label: LabelOpt,
    model: ModelOpt,
    finetune_epochs: Annotated[
        int | None,
        typer.Option("--finetune-epochs", min=0, help="Fine-tune the encoder (0 = frozen)."),
    ] = None,
    fmt: FormatOpt = Format.TABLE,
) -> None:
    """Train an intent classifier on a labelled CSV and save it."""
    from cxloop.text import intents

    options: dict[str, Any] = {}
    if finetune_epochs is not None:
        options["finetune_epochs"] = finetune_epochs
    with make_console(stderr=True).status(f"training on {train.name}…"):
        summary = intents.fit_csv(train, text, label, model, **options)
    if fmt is Format.JSON:
        emit_json(make_console(), summary)
        return
    make_console().print(
        f"Trained on {summary['n']:,} texts, {len(summary['classes'])} intents, in "
        f"{summary['seconds']:.1f}s; saved to {model}.",
        highlight=False,
    )


@intents_app.command("evaluate")
def intents_evaluate(
    test: Annotated[Path, typer.Argument(help="Labelled CSV to evaluate on.")],
    text: TextOpt,
    label: LabelOpt,
    model: ModelOpt,
    fmt: FormatOpt = Format.TABLE,
) -> None:
    """Accuracy and macro-F1 of a saved intent model on a labelled CSV."""
    from cxloop.text import intents

    texts, labels = intents.read_labelled_csv(test, text, label)
    result = intents.evaluate(intents.IntentClassifier.load(model), texts, labels)
    if fmt is Format.JSON:
        emit_json(make_console(), result)
        return
    out = make_console()
    out.print(
        f"accuracy {result['accuracy']:.4f}, macro-F1 {result['macro_f1']:.4f} on "
        f"{result['n']:,} texts ({result['texts_per_second']:,.0f} texts/s)",
        highlight=False,
    )
    per_class = pd.DataFrame(result["per_class"]).sort_values("f1").head(10)
    table(out, "Weakest intents", per_class)


@intents_app.command("predict")
def intents_predict(
    data: Annotated[Path, typer.Argument(help="CSV with texts to classify.")],
    text: TextOpt,
    model: ModelOpt,
    fmt: ReportFormatOpt = ReportFormat.TABLE,
    dest: OutOpt = None,
) -> None:
    """Predict the intent (and its probability) of each text in a CSV."""
    from cxloop.text import intents

    texts = intents.read_texts_csv(data, text)
    clf = intents.IntentClassifier.load(model)
    proba = clf.predict_proba(texts)
    df = pd.DataFrame(
        {
            "row": range(1, len(texts) + 1),
            "intent": clf.classes_[proba.argmax(axis=1)],
            "probability": proba.max(axis=1),
            "text": texts,
        }
    )
    if export(make_console(), fmt, dest, df, records(df)):
        return
    table(make_console(), f"Intents of {data.name}", df)
