"""`cxloop keys` and `cxloop serve`: a real uvicorn on loopback, called over HTTP. `keys`
runs as a user runs it once; its further commands go through the same entry point in this
process (:func:`tests.test_cli.run_here`), without a fresh interpreter each."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from tests.test_cli import run, run_here
from tests.test_notify import free_port


def create(home: Path, *args: str, process: bool = False) -> dict[str, str]:
    """``cxloop keys create``: in a real process with ``process``, else in this one."""
    out = (run if process else run_here)(home, "keys", "create", *args, "--format", "json").stdout
    return json.loads(out)  # type: ignore[no-any-return]


def test_keys_are_created_listed_and_revoked(tmp_path: Path) -> None:
    home = tmp_path / "store"
    agent = create(home, "--name", "alice", "--role", "agent", process=True)
    assert agent["key"].startswith("cxk_") and agent["grant_as"] == "agent"
    admin = create(home, "--name", "ops", "--role", "admin")
    assert admin["grant_as"] == "director"  # the top of the default policy's ladder
    lead = create(home, "--name", "bo", "--role", "lead", "--grant-as", "manager")
    assert lead["grant_as"] == "manager"
    listed = json.loads(run_here(home, "keys", "list", "--format", "json").stdout)
    assert [k["name"] for k in listed] == ["alice", "ops", "bo"]
    assert agent["key"] not in json.dumps(listed) and "secret" not in json.dumps(listed)
    table = run_here(home, "keys", "list").stdout
    assert "alice" in table and agent["key"] not in table
    run_here(home, "keys", "revoke", agent["key_id"])
    assert len(json.loads(run_here(home, "keys", "list", "--format", "json").stdout)) == 2
    revoked = json.loads(run_here(home, "keys", "list", "--all", "--format", "json").stdout)
    assert next(k for k in revoked if k["name"] == "alice")["revoked_at"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--name", "x", "--role", "boss"], "unknown role 'boss'"),
        (["--name", "x", "--role", "viewer", "--grant-as", "agent"], "viewer key cannot grant"),
        (["--name", "x", "--role", "agent", "--grant-as", "king"], "'king' is not a role"),
        (["--name", " ", "--role", "agent"], "a key needs a name"),
    ],
)
def test_bad_key_requests_name_the_problem(tmp_path: Path, args: list[str], message: str) -> None:
    proc = run_here(tmp_path / "store", "keys", "create", *args, check=False)
    assert proc.returncode == 1 and message in proc.stderr, proc.stderr


def test_revoking_an_unknown_key_says_so(tmp_path: Path) -> None:
    proc = run_here(tmp_path / "store", "keys", "revoke", "nope", check=False)
    assert proc.returncode == 1 and "no API key 'nope'" in proc.stderr


def wait_up(url: str, proc: subprocess.Popen[str], seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()[1]
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.2)
    raise AssertionError(f"{url} did not answer in {seconds}s")


def test_serve_answers_over_http_and_refuses_a_busy_port(tmp_path: Path) -> None:
    home = tmp_path / "store"
    key = create(home, "--name", "alice", "--role", "viewer")["key"]
    admin = {"Authorization": "Bearer " + create(home, "--name", "feed", "--role", "admin")["key"]}
    port = free_port()
    env = {**os.environ, "CXLOOP_HOME": str(home)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "cxloop", "serve", "--port", str(port)],
        env=env,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        wait_up(f"{base}/health", proc)
        me = httpx.get(f"{base}/api/v1/me", headers={"Authorization": f"Bearer {key}"})
        assert me.status_code == 200 and me.json()["name"] == "alice"
        assert httpx.get(f"{base}/api/v1/me").json()["error"]["code"] == "unauthorized"
        assert "/api/v1/events" in httpx.get(f"{base}/openapi.json").json()["paths"]
        events = [
            {
                "event_id": f"e-{c}-{i}",
                "customer_id": f"C{c}",
                "event_type": "contact_inbound",
                "ts": f"2026-11-{i + 1:02d}T09:00:00Z",
                "channel": "email",
                "ref": f"K-{c}-{i}",
            }
            for c in range(20)
            for i in range(c % 5 + 1)
        ]
        loaded = httpx.post(f"{base}/api/v1/events", headers=admin, json={"events": events})
        assert loaded.json()["events_new"] == len(events), loaded.text
        # many clients at once: every request gets its own store connection
        results: list[tuple[int, int, int]] = []

        def client(n: int) -> None:
            with httpx.Client(base_url=base, headers=admin, timeout=60) as c:
                for i in range(6):
                    who = (n + i) % 20
                    r = c.get(f"/api/v1/customers/C{who}/timeline")
                    results.append((r.status_code, who, r.json().get("total", -1)))

        threads = [threading.Thread(target=client, args=(n,)) for n in range(24)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        assert len(results) == 24 * 6
        assert all(s == 200 and total == who % 5 + 1 for s, who, total in results), results
        busy = run(home, "serve", "--port", str(port), check=False)
        assert busy.returncode == 1 and f"127.0.0.1:{port}" in busy.stderr, busy.stderr
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=30)
    assert f"http://127.0.0.1:{port}/" in out


def test_port_check_is_real() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        from cxloop.cli.serve import _check_port
        from cxloop.errors import ConfigError

        with pytest.raises(ConfigError, match="pick another with --port"):
            _check_port("127.0.0.1", s.getsockname()[1])
