"""``cxloop policy``: check, show and query the empowerment policy.

Thin commands over :mod:`cxloop.domain.policy` and :func:`cxloop.library.edges.load_policy`;
errors (CxloopError) propagate to ``cxloop.cli.main.main``, which prints one line and exits 1.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import pandas as pd
import typer

from cxloop.cli.render import Format, emit_json, make_console, table
from cxloop.domain.policy import Grant, Policy
from cxloop.domain.remedies import CustomerTier, Remedy, Severity
from cxloop.library.edges import DEFAULT_POLICY_NAME, load_policy, policy_text

policy_app = typer.Typer(
    no_args_is_help=True,
    help="Check, show or query the empowerment policy: what each role may grant without approval.",
)

FileArg = Annotated[
    Path | None, typer.Argument(help="Policy file (TOML; default: the built-in policy).")
]
PolicyOpt = Annotated[
    Path | None,
    typer.Option("--policy", help="Policy file (TOML; default: the built-in policy)."),
]
FormatOpt = Annotated[Format, typer.Option("--format", "-f", help="table or json.")]
NO_GRANT = "—"  # a table cell: this role may grant none of it without approval


@policy_app.command("check")
def check(file: FileArg = None, fmt: FormatOpt = Format.TABLE) -> None:
    """Validate a policy file; an error names the file, the entry and the field."""
    policy = load_policy(file)
    where = DEFAULT_POLICY_NAME if file is None else str(file)
    if fmt is Format.JSON:
        summary: dict[str, Any] = {"file": where, "version": policy.version}
        summary |= {"digest": policy.digest}
        summary |= {"currency": policy.currency, "roles": list(policy.roles)}
        emit_json(make_console(), summary | {"grants": len(policy.grants)})
        return
    make_console().print(
        f"{where}: policy {policy.version} (digest {policy.digest}): {len(policy.grants)} "
        f"grants for roles {' < '.join(policy.roles)}",
        highlight=False,
    )


@policy_app.command("show")
def show(
    file: FileArg = None,
    fmt: FormatOpt = Format.TABLE,
    source: Annotated[
        bool,
        typer.Option(
            "--source", help="Print the policy file itself (the built-in one: a start for yours)."
        ),
    ] = False,
) -> None:
    """What each role may grant without approval, per remedy and customer tier."""
    if source:
        typer.echo(policy_text(file), nl=False)
        return
    policy = load_policy(file)
    if fmt is Format.JSON:
        emit_json(make_console(), _entitlement_records(policy))
        return
    title = (
        f"Policy {policy.version} (digest {policy.digest}): what each role may grant "
        f"without approval, in {policy.currency}"
    )
    table(make_console(), title, _entitlement_table(policy))


@policy_app.command("decide")
def decide_command(
    role: Annotated[str, typer.Option("--role", help="Who would grant it (a policy role).")],
    remedy: Annotated[Remedy, typer.Option("--remedy", help="What to grant.")],
    amount: Annotated[
        float, typer.Option("--amount", help="Amount (monetary remedies only).")
    ] = 0.0,
    order_amount: Annotated[
        float | None, typer.Option("--order-amount", help="The order's amount, if known.")
    ] = None,
    severity: Annotated[
        Severity | None, typer.Option("--severity", help="How bad the problem is.")
    ] = None,
    tier: Annotated[
        CustomerTier | None, typer.Option("--tier", help="The customer's tier.")
    ] = None,
    policy_file: PolicyOpt = None,
    fmt: FormatOpt = Format.TABLE,
) -> None:
    """May ROLE grant this without approval? If not, which role may."""
    from cxloop.domain.policy import GrantRequest, decide

    policy = load_policy(policy_file)
    decision = decide(policy, GrantRequest(remedy, role, amount, order_amount, severity, tier))
    out = make_console()
    if fmt is Format.JSON:
        emit_json(out, decision.as_dict())
        return
    verdict = "allowed" if decision.allowed else "not allowed"
    line = "" if decision.grant_index is None else f", grants[{decision.grant_index}]"
    out.print(f"{verdict}: {decision.reason}", highlight=False)
    out.print(
        f"(policy {decision.policy_version}, digest {decision.policy_digest}{line})",
        highlight=False,
    )


def _entitlement_records(policy: Policy) -> list[dict[str, Any]]:
    from cxloop.domain.policy import entitlements

    return [
        {
            "role": e.role,
            "remedy": e.remedy.value,
            "customer_tier": e.customer_tier.value,
            "may_grant": bool(e.grants),
            "grants": [{"index": i, **policy.grants[i].as_dict()} for i in e.grants],
        }
        for e in entitlements(policy)
    ]


def _entitlement_table(policy: Policy) -> pd.DataFrame:
    """One row per remedy (and per customer tier where the tiers differ), a column per role."""
    from cxloop.domain.policy import entitlements

    cells = {
        (e.remedy, e.customer_tier, e.role): _cell(policy, e.grants) for e in entitlements(policy)
    }
    rows = []
    for remedy in Remedy:
        by_tier = {t.value: [cells[remedy, t, r] for r in policy.roles] for t in CustomerTier}
        if len({tuple(v) for v in by_tier.values()}) == 1:
            by_tier = {"any": by_tier[CustomerTier.NEW.value]}
        rows += [[remedy.value, tier, *values] for tier, values in by_tier.items()]
    return pd.DataFrame(rows, columns=["remedy", "customer tier", *policy.roles])


def _cell(policy: Policy, indexes: tuple[int, ...]) -> str:
    return "; ".join(_limit_text(policy.grants[i]) for i in indexes) or NO_GRANT


def _limit_text(grant: Grant) -> str:
    """A grant line's limit in a few characters: ``30, ≤ 100% of order (severity is high)``."""
    from cxloop.domain.remedies import MONETARY

    parts = []
    if grant.remedy not in MONETARY:
        parts.append("yes")
    elif grant.max_amount is not None:
        parts.append(_money(grant.max_amount))
    if grant.max_order_share is not None:
        parts.append(f"≤ {grant.max_order_share * 100:g}% of order")
    text = ", ".join(parts) or "no limit"
    severity = grant.when.severity
    if severity is not None:
        text += f" (severity {', '.join(s.value for s in Severity if s in severity)})"
    return text


def _money(value: float) -> str:
    return f"{value:,.0f}" if value.is_integer() else f"{value:,.2f}"
