"""``cxloop cases …`` and ``cxloop recover CASE``: thin commands over the library
(:mod:`cxloop.library.cases`)."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import pandas as pd
import typer

from cxloop import client
from cxloop.cli.export import OutOpt, ReportFormat, ReportFormatOpt, export
from cxloop.cli.render import Format, emit_json, make_console, table
from cxloop.domain.promises import parse_duration
from cxloop.domain.remedies import Remedy
from cxloop.library.edges import acting, cli_principal
from cxloop.serialize import clean

if TYPE_CHECKING:
    from cxloop import Actor

cases_app = typer.Typer(
    no_args_is_help=True, help="Cases: customer problems raised by signals, tracked to closure."
)

HomeOpt = Annotated[
    Path | None,
    typer.Option("--home", envvar="CXLOOP_HOME", help="Store directory (default ./.cxloop)."),
]
FormatOpt = Annotated[Format, typer.Option("--format", "-f", help="table or json.")]
ActorOpt = Annotated[
    str | None,
    typer.Option(
        "--actor",
        envvar="CXLOOP_ACTOR",
        help="Without a key: who acts (the keyless operator, in the policy's lowest role).",
    ),
]
KeyOpt = Annotated[
    str | None,
    typer.Option(
        "--key",
        envvar="CXLOOP_API_KEY",
        help="Your API key (cxloop keys create): you act under its name and role.",
        show_default=False,
    ),
]
RoleOpt = Annotated[
    str | None,
    typer.Option(
        "--role",
        envvar="CXLOOP_ROLE",
        help="Act in a lower policy role than your key's (never a higher one).",
    ),
]
AdviceRoleOpt = Annotated[
    str | None,
    typer.Option(
        "--role",
        envvar="CXLOOP_ROLE",
        help="The policy role to advise (default: your key's, else the lowest).",
    ),
]
PolicyOpt = Annotated[
    Path | None,
    typer.Option("--policy", envvar="CXLOOP_POLICY", help="Empowerment policy file (TOML)."),
]
NoteOpt = Annotated[str, typer.Option("--note", help="What was done or why.")]
CaseArg = Annotated[str, typer.Argument(help="The case id, e.g. CS-000042.")]
CASE_COLUMNS = [
    "case_id",
    "customer_id",
    "subject",
    "department",
    "severity",
    "state",
    "owner",
    "opened_at",
    "sla_due_at",
    "resolved_at",
]


def _duration(option: str, text: str) -> timedelta:
    """A duration option ("30d", "4h"); a bad one is a usage error naming the option."""
    try:
        return parse_duration(text)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint=option) from None


def _open(home: Path | None, policy: Path | None = None) -> client.Cxloop:
    return client.open(home, policy=policy)


def _actor(
    cx: client.Cxloop, action: str, key: str | None, actor: str | None, role: str | None
) -> Actor:
    """Who acts: the key's holder in the key's role, else the keyless operator (see
    :func:`cxloop.library.edges.cli_principal`); ``role`` may only lower it."""
    principal = cli_principal(cx.workspace, cx.policy, key, actor)
    return acting(principal, cx.policy, action, role)


def _show(
    payload: Any,
    fmt: Format | ReportFormat,
    title: str,
    columns: list[str] | None = None,
    dest: Path | None = None,
) -> None:
    """An answer as a table; as JSON unchanged; a list of rows also as CSV or Parquet."""
    out = make_console()
    payload = clean(payload)  # typed results as dicts
    frame = pd.DataFrame(payload if isinstance(payload, list) else [payload])
    if export(out, ReportFormat(fmt.value), dest, frame, payload):
        return
    if frame.empty:
        out.print(f"{title}: none")
        return
    cols = [c for c in (columns or list(frame.columns)) if c in frame.columns]
    table(out, title, frame, cols)


@cases_app.command()
def sync(
    home: HomeOpt = None,
    as_of: Annotated[
        datetime | None,
        typer.Option("--as-of", help="Judge signals as of (default: the store's clock)."),
    ] = None,
    window: Annotated[
        str, typer.Option("--window", help="Only signals this recent open cases.")
    ] = "30d",
    fmt: FormatOpt = Format.TABLE,
) -> None:
    """Find signals (broken/at-risk promises, bad feedback, repeats, holds, transfers) and
    file them under one case per customer problem. Safe to re-run."""
    from cxloop.domain.cases import SignalRules

    rules = replace(SignalRules(), open_window=_duration("--window", window))
    report = _open(home).sync_cases(rules, as_of)
    _show(report.as_dict(), fmt, "Case sync")


@cases_app.command("list")
def list_cases(
    home: HomeOpt = None,
    state: Annotated[str | None, typer.Option("--state", help="Only this state.")] = None,
    department: Annotated[str | None, typer.Option("--department")] = None,
    owner: Annotated[str | None, typer.Option("--owner")] = None,
    customer: Annotated[str | None, typer.Option("--customer")] = None,
    fmt: ReportFormatOpt = ReportFormat.TABLE,
    dest: OutOpt = None,
) -> None:
    """List cases (oldest first)."""
    rows = _open(home).cases(state=state, department=department, owner=owner, customer_id=customer)
    _show(rows, fmt, f"Cases ({len(rows)})", CASE_COLUMNS, dest)


@cases_app.command()
def show(case_id: CaseArg, home: HomeOpt = None, fmt: FormatOpt = Format.TABLE) -> None:
    """One case with its signals and its audit trail."""
    detail = _open(home).case(case_id)
    if fmt is Format.JSON:
        emit_json(make_console(), detail)
        return
    _show(detail["case"], fmt, f"Case {case_id}", [*CASE_COLUMNS, "resolution", "contacts"])
    _show(detail["signals"], fmt, "Signals", ["ts", "kind", "severity", "department", "detail"])
    _show(detail["audit"], fmt, "Audit", ["at", "actor", "role", "action", "remedy", "amount"])


@cases_app.command()
def start(
    case_id: CaseArg,
    actor: ActorOpt = None,
    key: KeyOpt = None,
    role: RoleOpt = None,
    owner: Annotated[str | None, typer.Option("--owner", help="Default: the actor.")] = None,
    home: HomeOpt = None,
    fmt: FormatOpt = Format.TABLE,
) -> None:
    """Take a case: it is in progress, owned by you (or --owner)."""
    cx = _open(home)
    who = _actor(cx, "work_cases", key, actor, role)
    _show(cx.start_case(case_id, who, owner), fmt, case_id, CASE_COLUMNS)


@cases_app.command()
def assign(
    case_id: CaseArg,
    owner: Annotated[str, typer.Argument(help="Who owns it now.")],
    actor: ActorOpt = None,
    key: KeyOpt = None,
    role: RoleOpt = None,
    department: Annotated[str | None, typer.Option("--department")] = None,
    home: HomeOpt = None,
    fmt: FormatOpt = Format.TABLE,
) -> None:
    """Give a case to an owner (and optionally another department)."""
    cx = _open(home)
    case = cx.assign_case(case_id, _actor(cx, "work_cases", key, actor, role), owner, department)
    _show(case, fmt, case_id, CASE_COLUMNS)


@cases_app.command()
def resolve(
    case_id: CaseArg,
    note: NoteOpt,
    actor: ActorOpt = None,
    key: KeyOpt = None,
    role: RoleOpt = None,
    follow_up_in: Annotated[
        str, typer.Option("--follow-up-in", help="When to follow up (a promise in the ledger).")
    ] = "3d",
    home: HomeOpt = None,
    fmt: FormatOpt = Format.TABLE,
) -> None:
    """The problem is fixed; a follow-up with the customer is promised."""
    cx = _open(home)
    who = _actor(cx, "work_cases", key, actor, role)
    case = cx.resolve_case(case_id, who, note, _duration("--follow-up-in", follow_up_in))
    _show(case, fmt, case_id, [*CASE_COLUMNS, "contacts", "follow_up_due_at"])


@cases_app.command("follow-up")
def follow_up(
    case_id: CaseArg,
    note: NoteOpt,
    actor: ActorOpt = None,
    key: KeyOpt = None,
    role: RoleOpt = None,
    home: HomeOpt = None,
    fmt: FormatOpt = Format.TABLE,
) -> None:
    """You contacted the customer after the fix: the loop is closed."""
    cx = _open(home)
    case = cx.follow_up_case(case_id, _actor(cx, "work_cases", key, actor, role), note)
    _show(case, fmt, case_id, [*CASE_COLUMNS, "followed_up_at"])


RemedyOpt = Annotated[Remedy, typer.Option("--remedy", help="The remedy.")]
AmountOpt = Annotated[float, typer.Option("--amount", help="Money (monetary remedies).")]


@cases_app.command()
def grant(
    case_id: CaseArg,
    remedy: RemedyOpt,
    actor: ActorOpt = None,
    key: KeyOpt = None,
    amount: AmountOpt = 0.0,
    role: RoleOpt = None,
    note: NoteOpt = "",
    policy: PolicyOpt = None,
    home: HomeOpt = None,
    fmt: FormatOpt = Format.TABLE,
) -> None:
    """Grant a remedy your role may give without approval (audited)."""
    cx = _open(home, policy)
    decision = cx.grant(case_id, remedy, amount, _actor(cx, "grant", key, actor, role), note)
    shown = decision.as_dict()
    del shown["case_id"], shown["granted_by"]
    _show({"case_id": case_id, "granted": remedy.value, "amount": amount, **shown}, fmt, "Grant")


@cases_app.command()
def request(
    case_id: CaseArg,
    remedy: RemedyOpt,
    actor: ActorOpt = None,
    key: KeyOpt = None,
    amount: AmountOpt = 0.0,
    role: RoleOpt = None,
    note: NoteOpt = "",
    policy: PolicyOpt = None,
    home: HomeOpt = None,
    fmt: FormatOpt = Format.TABLE,
) -> None:
    """Ask for approval of a remedy beyond your authority (the wait is measured)."""
    cx = _open(home, policy)
    row = cx.request_approval(case_id, remedy, amount, _actor(cx, "grant", key, actor, role), note)
    _show(row, fmt, "Approval requested")


def _decide(approval_id: int, note: str, ok: bool, **kw: Any) -> None:
    cx = _open(kw["home"], kw["policy"])
    who = _actor(cx, "decide_approvals", kw["key"], kw["actor"], kw["role"])
    row = cx.decide_approval(approval_id, who, ok, note)
    _show(row, kw["fmt"], f"Approval {approval_id}")


ApprovalArg = Annotated[int, typer.Argument(help="The approval id.")]


@cases_app.command()
def approve(
    approval_id: ApprovalArg,
    key: KeyOpt = None,
    actor: ActorOpt = None,
    role: RoleOpt = None,
    note: NoteOpt = "",
    policy: PolicyOpt = None,
    home: HomeOpt = None,
    fmt: FormatOpt = Format.TABLE,
) -> None:
    """Approve a request (your key's role must be allowed to grant it); the remedy is granted."""
    who = {"key": key, "actor": actor, "role": role}
    _decide(approval_id, note, True, home=home, policy=policy, fmt=fmt, **who)


@cases_app.command()
def deny(
    approval_id: ApprovalArg,
    key: KeyOpt = None,
    actor: ActorOpt = None,
    role: RoleOpt = None,
    note: NoteOpt = "",
    policy: PolicyOpt = None,
    home: HomeOpt = None,
    fmt: FormatOpt = Format.TABLE,
) -> None:
    """Deny a request (recorded, with the wait); needs a key of role lead or above."""
    who = {"key": key, "actor": actor, "role": role}
    _decide(approval_id, note, False, home=home, policy=policy, fmt=fmt, **who)


@cases_app.command()
def approvals(
    home: HomeOpt = None,
    pending: Annotated[bool, typer.Option("--pending", help="Only undecided ones.")] = False,
    fmt: ReportFormatOpt = ReportFormat.TABLE,
    dest: OutOpt = None,
) -> None:
    """Approval requests, with who asked, who decided and when."""
    rows = _open(home).approvals(pending)
    _show(rows, fmt, f"Approvals ({len(rows)})", None, dest)


@cases_app.command()
def audit(
    case_id: Annotated[str | None, typer.Argument(help="Only this case.")] = None,
    home: HomeOpt = None,
    fmt: ReportFormatOpt = ReportFormat.TABLE,
    dest: OutOpt = None,
) -> None:
    """The append-only audit log: who did what, when, under which policy version."""
    rows = _open(home).audit(case_id)
    cols = ["audit_id", "at", "actor", "role", "action", "case_id", "remedy", "amount"]
    _show(rows, fmt, f"Audit ({len(rows)})", [*cols, "policy_version"], dest)


@cases_app.command()
def metrics(
    home: HomeOpt = None,
    department: Annotated[str | None, typer.Option("--department")] = None,
    fmt: ReportFormatOpt = ReportFormat.TABLE,
    dest: OutOpt = None,
) -> None:
    """First-contact resolution, time to resolve, SLA, approval waits, follow-ups."""
    m = clean(_open(home).case_metrics(department))  # flattened below
    flat = {k: v for k, v in m.items() if not isinstance(v, dict)}
    for section in ("by_state", "time_to_resolve", "approvals", "follow_ups"):
        for k, v in m[section].items():
            flat[f"{section}.{k}"] = v if not isinstance(v, dict) else str(v)
    frame = pd.DataFrame({"metric": list(flat), "value": [str(v) for v in flat.values()]})
    if not export(make_console(), fmt, dest, frame, m):
        table(make_console(), "Recovery metrics", frame)


def recover(
    case_id: CaseArg,
    role: AdviceRoleOpt = None,
    key: KeyOpt = None,
    policy: PolicyOpt = None,
    home: HomeOpt = None,
    fmt: FormatOpt = Format.TABLE,
) -> None:
    """Recommend a proportionate remedy for a case, and say what your role may grant now."""
    cx = _open(home, policy)
    if not role:
        principal = cli_principal(cx.workspace, cx.policy, key, None) if key else None
        role = (principal.grant_as if principal else None) or cx.policy.roles[0]
    advice = cx.recover(case_id, role).as_dict()
    out = make_console()
    if fmt is Format.JSON:
        emit_json(out, advice)
        return
    out.print(f"[bold]{case_id}[/] ({advice['severity']}) — {advice['reason']}", highlight=False)
    rows = [
        {
            "remedy": ln["remedy"],
            "amount": ln["amount"] or None,
            "why": ln["why"],
            "you": "may grant this now"
            if ln["allowed"]
            else f"needs approval from {ln['needs_role']}"
            if ln["needs_role"]
            else "no role may grant this",
            "policy": ln["policy"],
        }
        for ln in advice["lines"]
    ]
    table(
        out,
        f"Recommended remedy (as {role}, policy {advice['policy_version']})",
        pd.DataFrame(rows),
    )
