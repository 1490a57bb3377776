"""``cxloop outcomes churn`` (your own customer table) and ``cxloop outcomes health`` (churn
risk from the log): thin commands over the library (docs/outcomes-churn.md).

:func:`register` adds these commands to the ``outcomes`` group (``cli/outcomes.py``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import pandas as pd
import typer

from cxloop import client
from cxloop.cli.export import OutOpt, ReportFormat, ReportFormatOpt, write_rows
from cxloop.cli.render import make_console
from cxloop.domain.promises import parse_duration

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
            f"ROC-AUC {report['roc_auc']:.3f} (95% CI {report['roc_auc_ci'][0]:.3f}-"
            f"{report['roc_auc_ci'][1]:.3f})  Brier {report['brier']:.4f} (no-skill "
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
    opts = {"time": time, "positive": positive, "drop_leaky": drop_leaky}
    _figures(client.Cxloop.churn_fit(table, id_col, label, model, **opts), fmt, out)


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
    opts = {"time": time, "positive": positive, "drop_leaky": drop_leaky}
    _figures(client.Cxloop.churn_evaluate(table, id_col, label, model, **opts), fmt, out)


@churn_app.command("predict")
def predict(
    table: TableArg,
    model: Annotated[Path, typer.Option("--model", help="A model directory from `fit`.")],
    top: Annotated[int, typer.Option("--top", min=1, max=10, help="Reasons per customer.")] = 3,
    fmt: ReportFormatOpt = ReportFormat.TABLE,
    out: OutOpt = None,
) -> None:
    """Per customer: the churn probability and the values that raise it most."""
    rows = client.Cxloop.churn_predict(table, model, top)
    write_rows(make_console(), rows, fmt, out, title="Churn risk", percent=["probability"])


def health(
    horizon: Annotated[
        str | None,
        typer.Option(
            "--horizon", help="Churn = no purchase within this (default: health_horizon)."
        ),
    ] = None,
    min_risk: Annotated[
        float, typer.Option("--min-risk", min=0, max=1, help="Only customers at this risk or more.")
    ] = 0.0,
    limit: Annotated[
        int | None, typer.Option("--limit", min=1, help="At most this many customers.")
    ] = None,
    bands: Annotated[
        bool, typer.Option("--distribution", help="The risk distribution (10 bands) instead.")
    ] = False,
    home: HomeOpt = None,
    fmt: ReportFormatOpt = ReportFormat.TABLE,
    out: OutOpt = None,
) -> None:
    """Churn risk per customer from the log: top reasons and revenue at risk, validated on
    a time split (ROC-AUC, Brier, calibration)."""
    with client.open(home) as cx:
        h = cx.health(parse_duration(horizon) if horizon else None)
        dist = cx.risk_bands(h) if bands else None
    rows = h.rows[h.rows["risk"] >= min_risk]
    if limit is not None:
        rows = rows.head(limit)
    v = h.validation
    meta = {
        "as_of": h.as_of.isoformat(),
        "horizon_days": h.horizon_days,
        **h.summary,
        "listed": len(rows),
        "listed_revenue_at_risk": round(float(rows["revenue_at_risk"].sum()), 2),
        "validation": v,
    }
    con = make_console()
    if fmt is ReportFormat.TABLE and out is None:
        con.print(
            f"as of {h.as_of:%Y-%m-%d %H:%M}: {h.summary['customers']:,} customers, revenue at "
            f"risk {h.summary['revenue_at_risk']:,.2f} (of {h.summary['expected_value']:,.2f} "
            f"expected in {h.horizon_days:g} days)\n{v['validation']}: ROC-AUC "
            f"{v['roc_auc']:.3f} [{v['roc_auc_ci'][0]:.3f}-{v['roc_auc_ci'][1]:.3f}] "
            f"(recency alone {v['recency_only_roc_auc']:.3f}), Brier "
            f"{v['brier']:.4f} (no-skill {v['brier_baseline']:.4f}), model {v['model']}",
            highlight=False,
        )
        if v.get("warning"):
            con.print(f"[bold yellow]warning:[/] {v['warning']}", highlight=False)
    if dist is not None:
        write_rows(con, dist, fmt, out, title="Risk distribution", meta=meta)
        return
    write_rows(
        con, rows, fmt, out, title="Customers by revenue at risk", percent=["risk"], meta=meta
    )


def register(group: typer.Typer) -> None:
    """Add ``churn`` and ``health`` to an ``outcomes`` group."""
    group.add_typer(churn_app, name="churn")
    group.command("health")(health)


__all__ = ["churn_app", "health", "register"]
