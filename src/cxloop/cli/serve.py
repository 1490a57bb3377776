"""``cxloop serve`` (the API and the dashboard) and ``cxloop keys`` (who may call it)."""

from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import Annotated

import pandas as pd
import typer

from cxloop.cli.render import Format, emit_json, make_console, table
from cxloop.errors import ConfigError
from cxloop.library.edges import ROLES, Workspace, create_key, list_keys, load_policy, revoke_key

HomeOpt = Annotated[
    Path | None,
    typer.Option("--home", envvar="CXLOOP_HOME", help="Store directory (default ./.cxloop)."),
]
PolicyOpt = Annotated[
    Path | None,
    typer.Option("--policy", envvar="CXLOOP_POLICY", help="Empowerment policy file (TOML)."),
]
keys_app = typer.Typer(
    no_args_is_help=True, help="API keys for `cxloop serve`: create, list, revoke."
)
KEY_COLUMNS = ["key_id", "name", "role", "grant_as", "created_at", "revoked_at", "last_used_at"]


def _workspace(home: Path | None, policy: Path | None = None) -> Workspace:
    return Workspace.open(home, policy=policy)


@keys_app.command("create")
def keys_create(
    name: Annotated[str, typer.Option("--name", help="Who or what uses the key.")],
    role: Annotated[str, typer.Option("--role", help=f"One of {', '.join(ROLES)}.")],
    grant_as: Annotated[
        str | None,
        typer.Option(
            "--grant-as",
            help="The empowerment-policy role its grants are judged in (default: the same "
            "name; admin: the top of the policy's ladder).",
        ),
    ] = None,
    home: HomeOpt = None,
    policy: PolicyOpt = None,
    fmt: Annotated[Format, typer.Option("--format", "-f", help="table or json.")] = Format.TABLE,
) -> None:
    """Create a key; it is printed once (only its SHA-256 digest is stored)."""
    ws = _workspace(home, policy)
    try:
        policy_now = load_policy(ws.settings.policy, ws.settings.currency)
        token, row = create_key(ws, name, role, policy_now, grant_as)
    finally:
        ws.close()
    if fmt is Format.JSON:
        emit_json(make_console(), {**row, "key": token})
        return
    out = make_console()
    out.print(
        f"API key for {row['name']} (role {row['role']}, grants as {row['grant_as'] or '-'}):"
    )
    out.print(token, highlight=False, soft_wrap=True)
    out.print(
        f"Keep it now: it cannot be shown again. Revoke with `cxloop keys revoke {row['key_id']}`."
    )


@keys_app.command("list")
def keys_list(
    home: HomeOpt = None,
    all_keys: Annotated[bool, typer.Option("--all", help="Include revoked keys.")] = False,
    fmt: Annotated[Format, typer.Option("--format", "-f", help="table or json.")] = Format.TABLE,
) -> None:
    """The keys (never their secrets): name, role, created, revoked, last used."""
    ws = _workspace(home)
    try:
        found = list_keys(ws, include_revoked=all_keys)
    finally:
        ws.close()
    if fmt is Format.JSON:
        emit_json(make_console(), found)
    else:
        frame = pd.DataFrame(found, columns=KEY_COLUMNS)
        table(make_console(), "API keys (secrets are never shown)", frame, KEY_COLUMNS)


@keys_app.command("revoke")
def keys_revoke(
    key_id: Annotated[str, typer.Argument(help="The key's id (see `cxloop keys list`).")],
    home: HomeOpt = None,
) -> None:
    """Revoke a key: the next request with it gets 401."""
    ws = _workspace(home)
    try:
        row = revoke_key(ws, key_id)
    finally:
        ws.close()
    make_console().print(f"revoked {row['key_id']} ({row['name']}) at {row['revoked_at']}")


def _check_port(host: str, port: int) -> None:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError as exc:
            raise ConfigError(
                f"cannot listen on {host}:{port} ({exc.strerror}): pick another with --port"
            ) from None


def serve_store(home: Path, host: str, port: int, workers: int, banner: list[str]) -> None:
    """Run uvicorn over the store at ``home`` until interrupted."""
    import uvicorn

    _check_port(host, port)
    os.environ["CXLOOP_HOME"] = str(home)
    shown = f"[{host}]" if ":" in host else host
    url = f"http://{shown}:{port}/"
    out = make_console()
    for line in banner:
        out.print(line, highlight=False, soft_wrap=True)
    out.print(
        f"[bold]cxloop is serving {home} at {url}[/] — dashboard {url}, API docs {url}docs, "
        f"OpenAPI {url}openapi.json (Ctrl-C stops)",
        highlight=False,
        soft_wrap=True,
    )
    uvicorn.run(
        "cxloop.api:app_from_env",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level="warning",
        access_log=False,
    )


def serve(
    home: HomeOpt = None,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.", min=1, max=65535)] = 8000,
    workers: Annotated[int, typer.Option(help="Worker processes.", min=1, max=64)] = 1,
) -> None:
    """Serve the REST API and the dashboard over the store."""
    ws = _workspace(home)
    try:
        keys = list_keys(ws)
        chosen = ws.home.resolve()
    finally:
        ws.close()
    banner = (
        []
        if keys
        else [
            "No API keys yet: create one with "
            f"`cxloop keys create --name you --role admin --home {chosen}`."
        ]
    )
    serve_store(chosen, host, port, workers, banner)
