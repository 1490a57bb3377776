"""Docs travel with code: every setting, command, column and event type is documented."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from cxloop.analytics.ledger import LEDGER_COLUMNS
from cxloop.domain.events import EVENT_COLUMNS, EventType
from cxloop.settings import SETTINGS
from tests.conftest import REPO


def test_every_setting_is_documented() -> None:
    doc = (REPO / "docs" / "settings.md").read_text()
    for s in SETTINGS:
        assert f"`{s.name}`" in doc and f"`{s.env}`" in doc, s.name


def test_every_event_column_and_type_is_documented() -> None:
    doc = (REPO / "docs" / "events.md").read_text()
    for c in EVENT_COLUMNS:
        assert f"`{c.name}`" in doc, c.name
    for t in EventType:
        assert f"`{t.value}`" in doc, t.value


def test_every_ledger_column_is_documented() -> None:
    doc = (REPO / "docs" / "promises.md").read_text()
    for c in LEDGER_COLUMNS:
        assert f"`{c}`" in doc, c


def test_every_cli_command_is_documented() -> None:
    doc = (REPO / "docs" / "cli.md").read_text()
    import typer.main

    from cxloop.cli.main import app

    group = typer.main.get_command(app)
    names = []
    for name, cmd in group.commands.items():  # type: ignore[attr-defined]
        subs = getattr(cmd, "commands", None)
        names += [f"{name} {sub}" for sub in subs] if subs else [name]
    assert len(names) >= 9
    for name in names:
        assert f"`cxloop {name}" in doc or f"and `cxloop {name}" in doc, name
    assert "make demo" in (REPO / "README.md").read_text()
    help_text = subprocess.run(
        [sys.executable, "-m", "cxloop", "--help"], capture_output=True, text=True, check=True
    ).stdout
    assert "promises" in help_text


def test_every_api_endpoint_is_documented(tmp_path: Path) -> None:
    from cxloop.api import create_app

    doc = (REPO / "docs" / "api.md").read_text()
    spec = create_app(home=tmp_path / "store").openapi()
    for path, item in spec["paths"].items():
        for method in item:
            assert f"`{method.upper()} {path}`" in doc, f"{method.upper()} {path}"
