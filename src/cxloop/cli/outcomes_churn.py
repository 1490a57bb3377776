"""``cxloop outcomes churn`` (your own customer table) and ``cxloop outcomes health`` (churn
risk from the log): thin commands over the library (docs/outcomes-churn.md).

:func:`register` adds these commands to an ``outcomes`` group; this module makes its own
group (``outcomes_app``) for when no other module does.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import pandas as pd
import typer

from cxloop import client
from cxloop.cli.export import OutOpt, ReportFormat, ReportFormatOpt, write_rows
from cxloop.cli.render import make_console
from cxloop.services import churn_table

churn_app = typer.Typer(
    no_args_is_help=True,
    help="Churn on your own customer table (CSV or Parquet): fit, evaluate, predict.",
)

IdOpt = Annotated[str, typer.Option("--id", help="The id column (never a feature).")]
LabelOpt = Annotated[
    str, typer.Option("--label", help="The label column: who left (yes/no, 1/0, churned/stayed).")
]
TimeOpt = Annotated[
    str | None,
    typer.Option(
        "--time", help="A time column: hold out the latest quarter instead of a random one."
    ),
]
PositiveOpt = Annotated[
    str | None,
    typer.Option("--positive", help="The label value that means churned, if not a known word."),
]
LeakyOpt = Annotated[
    bool,
    typer.Option(
        "--drop-leaky", help="Leave out columns that are the label in disguise instead of refusing."
    ),
]
TableArg = Annotated[Path, typer.Argument(help="The customer table: .csv or .parquet.")]
HomeOpt = Annotated[
    Path | None,
    typer.Option("--home", envvar="CXLOOP_HOME", help="Store directory (default ./.cxloop)."),
]


def _figures(report: dict[str, Any], fmt: ReportFormat, out: Path | None) -> None:
    """The calibration bins as rows, the other figures beside them (JSON) or above (table)."""
    con = make_console()
    rows = pd.DataFrame(report["calibration"])
    rows["customers"] = report["calibration_bin_sizes"][: len(rows)]
    meta = {k: v for k, v in report.items() if k not in ("calibration", "calibration_bin_sizes")}
    if fmt is ReportFormat.TABLE and out is None:
        con.print(
            f"ROC-AUC {report['roc_auc']:.3f}  Brier {report['brier']:.4f} (no-skill "
            f"{report.get('brier_baseline', float('nan')):.4f})  n={report['n']:,} "
            f"positives={report['positives']:,}  model={report['model']}\n"
            f"validation: {report['validation']}",
            highlight=False,
        )
        for col, why in report.get("dropped", {}).items():
            con.print(f"left out {col}: {why}", highlight=False)
    write_rows(con, rows, fmt, out, title="Calibration (held out)", meta=meta)


@churn_app.command("fit")
def fit(
    table: TableArg,
    id_col: IdOpt,
    label: LabelOpt,
    model: Annotated[Path, typer.Option("--model", help="Directory to write the model to.")],
    time: TimeOpt = None,
    positive: PositiveOpt = None,
    drop_leaky: LeakyOpt = False,
    fmt: ReportFormatOpt = ReportFormat.TABLE,
    out: OutOpt = None,
) -> None:
    """Choose, validate, calibrate and save a churn model for a customer table."""
    spec = churn_table.Spec(id_col, label, time, positive, drop_leaky)
    _figures(churn_table.fit_file(table, spec, model), fmt, out)


@churn_app.command("evaluate")
def evaluate(
    table: TableArg,
    id_col: IdOpt,
    label: LabelOpt,
    model: Annotated[
        Path | None,
        typer.Option(
            "--model", help="Score this saved model on every row (default: a fresh fit, held out)."
        ),
    ] = None,
    time: TimeOpt = None,
    positive: PositiveOpt = None,
    drop_leaky: LeakyOpt = False,
    fmt: ReportFormatOpt = ReportFormat.TABLE,
    out: OutOpt = None,
) -> None:
    """ROC-AUC, Brier score and calibration on rows the model never saw."""
    spec = churn_table.Spec(id_col, label, time, positive, drop_leaky)
    _figures(churn_table.evaluate_file(table, spec, model), fmt, out)


@churn_app.command("predict")
def predict(
    table: TableArg,
    model: Annotated[Path, typer.Option("--model", help="A model directory from `fit`.")],
    top: Annotated[int, typer.Option("--top", min=1, max=10, help="Reasons per customer.")] = 3,
    fmt: ReportFormatOpt = ReportFormat.TABLE,
    out: OutOpt = None,
) -> None:
    """Per customer: the churn probability and the values that raise it most."""
    rows = churn_table.predict_file(table, model, top)
    write_rows(make_console(), rows, fmt, out, title="Churn risk", percent=["probability"])


def register(group: typer.Typer) -> None:
    """Add ``churn`` and ``health`` to an ``outcomes`` group."""
    group.add_typer(churn_app, name="churn")


outcomes_app = typer.Typer(
    no_args_is_help=True, help="Outcomes: churn risk, health, revenue at risk."
)
register(outcomes_app)

__all__ = ["churn_app", "client", "outcomes_app", "register"]
