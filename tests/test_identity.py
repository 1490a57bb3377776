"""Who acts on the command line: a key's holder in the key's role, or the keyless operator
in the policy's lowest role; ``--role`` lowers authority, never raises it."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import Result
from typer.testing import CliRunner

import cxloop
from cxloop.cli.main import app
from cxloop.errors import PolicyError
from cxloop.services.access.permissions import create_key

EVENTS = (
    "event_id,customer_id,event_type,ts,ref,amount,due_at\n"
    "o1,c1,order_placed,2026-01-01T10:00:00Z,O1,80,2026-01-03T00:00:00Z\n"
    "o2,c2,order_placed,2026-01-10T10:00:00Z,O2,50,2026-01-12T00:00:00Z\n"
)
runner = CliRunner()


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, dict[str, str]]]:
    """A store with one case (O1 was never delivered) and keys: an agent, a lead who
    grants as director."""
    root = tmp_path_factory.mktemp("identity")
    (root / "events.csv").write_text(EVENTS)
    with cxloop.open(root / "store") as cx:
        cx.ingest(root / "events.csv")
        cx.sync_cases()
        keys = {
            "agent": create_key(cx.workspace, "alice", "agent", cx.policy)[0],
            "director": create_key(cx.workspace, "dora", "lead", cx.policy, "director")[0],
        }
    yield root / "store", keys


def cli(home: Path, *args: str, **env: str) -> Result:
    base = {"CXLOOP_HOME": str(home), "CXLOOP_API_KEY": "", "CXLOOP_ACTOR": "", "CXLOOP_ROLE": ""}
    return runner.invoke(app, list(args), env={**base, **env})


GRANT = ("cases", "grant", "CS-000001", "--remedy", "credit", "--amount", "5000")


def _grants(home: Path) -> list[tuple[str, str, float]]:
    with cxloop.open(home) as cx:
        return [(a["actor"], a["role"], a["amount"]) for a in cx.audit() if a["action"] == "grant"]


@pytest.mark.parametrize(
    ("args", "env", "says"),
    [
        (["--actor", "mallory", "--role", "director"], {}, "never raised by a flag"),
        (["--actor", "mallory", "--role", "manager"], {}, "never raised by a flag"),
        ([], {"CXLOOP_ACTOR": "mallory", "CXLOOP_ROLE": "director"}, "never raised"),
        (["--actor", "mallory"], {}, "needs approval from director"),
        (["--key", "{agent}", "--role", "director"], {}, "key .* grants as agent"),
        ([], {"CXLOOP_API_KEY": "{agent}", "CXLOOP_ROLE": "director"}, "grants as agent"),
        (["--key", "{agent}"], {}, "needs approval from director"),
        (["--key", "{agent}", "--actor", "dora"], {}, "not the holder of key"),
        (["--key", "cxk_0000_forged"], {}, "unknown or revoked API key"),
        ([], {}, "say who acts"),
    ],
)
def test_an_agent_cannot_grant_5000_whatever_it_declares(
    store: tuple[Path, dict[str, str]], args: list[str], env: dict[str, str], says: str
) -> None:
    home, keys = store
    args = [a.format(**keys) for a in args]
    env = {k: v.format(**keys) for k, v in env.items()}
    result = cli(home, *GRANT, *args, **env)
    assert result.exit_code == 1
    assert isinstance(result.exception, cxloop.CxloopError)
    assert re.search(says, str(result.exception)), str(result.exception)
    assert all(amount != 5000 for *_, amount in _grants(home))


def test_a_key_grants_in_its_own_role_and_may_act_lower(
    store: tuple[Path, dict[str, str]],
) -> None:
    home, keys = store
    small = cli(home, *GRANT[:-1], "5", "--key", keys["director"], "--role", "agent")
    assert small.exit_code == 0, small.output
    big = cli(home, *GRANT, CXLOOP_API_KEY=keys["director"])
    assert big.exit_code == 0, big.output
    assert _grants(home)[-2:] == [("dora", "agent", 5.0), ("dora", "director", 5000.0)]


def test_deciding_an_approval_needs_a_key(store: tuple[Path, dict[str, str]]) -> None:
    home, keys = store
    asked = cli(home, "cases", "request", "CS-000001", "--remedy", "credit", "--amount", "60",
                "--key", keys["agent"], "-f", "json")  # fmt: skip
    assert asked.exit_code == 0, asked.output
    keyless = cli(home, "cases", "approve", "1", "--actor", "bob", "--role", "director")
    assert keyless.exit_code == 1 and "needs a key of role lead" in str(keyless.exception)
    agent = cli(home, "cases", "approve", "1", "--key", keys["agent"])
    assert isinstance(agent.exception, PolicyError) and "needs role lead" in str(agent.exception)
    lead = cli(home, "cases", "approve", "1", "--key", keys["director"], "-f", "json")
    assert lead.exit_code == 0, lead.output
    assert '"decided_by": "dora"' in lead.output and '"decided_role": "director"' in lead.output
