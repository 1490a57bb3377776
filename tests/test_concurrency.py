"""The CLI and a long-running process use the same embedded store at the same time."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from tests.test_ingest import HEADER

READER = textwrap.dedent("""
    import json, sys, time
    import cxloop
    cx = cxloop.open(sys.argv[1])
    reads, errors, seen = 0, [], 0
    deadline = time.time() + float(sys.argv[2])
    while time.time() < deadline:
        try:
            seen = max(seen, int(cx.events().count().execute()))
            cx.promise_report("kind")
            reads += 1
        except Exception as exc:  # report every failure
            errors.append(repr(exc))
        time.sleep(0.05)
    print(json.dumps({"reads": reads, "errors": errors, "seen": seen}))
""")


def events_file(path: Path, prefix: str, n: int) -> Path:
    rows = [
        f"{prefix}-{i},{prefix}c{i % 50},order_placed,2026-03-01T10:{i % 60:02d}:00Z,,web,"
        f"{prefix}O{i},10,2026-03-05T00:00:00Z,"
        for i in range(n)
    ]
    path.write_text(HEADER + "\n".join(rows) + "\n")
    return path


def test_reader_process_and_two_cli_writers(tmp_path: Path) -> None:
    home = tmp_path / "store"
    env = {**os.environ, "CXLOOP_HOME": str(home)}
    a, b = events_file(tmp_path / "a.csv", "a", 3000), events_file(tmp_path / "b.csv", "b", 2000)
    subprocess.run(
        [sys.executable, "-m", "cxloop", "ingest", str(a)], env=env, check=True, capture_output=True
    )
    reader = subprocess.Popen(
        [sys.executable, "-c", READER, str(home), "12"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    time.sleep(3)  # the reader is up and reading
    writers = [
        subprocess.Popen(
            [sys.executable, "-m", "cxloop", *args],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for args in (["ingest", str(b)], ["ingest", str(a)], ["ledger", "build"])
    ]
    for w in writers:
        _, err = w.communicate(timeout=120)
        assert w.returncode == 0, err
    out, err = reader.communicate(timeout=120)
    assert reader.returncode == 0, err
    result = json.loads(out)
    assert result["errors"] == []
    assert result["reads"] > 10
    final = subprocess.run(
        [sys.executable, "-m", "cxloop", "ledger", "status", "--format", "json"],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    assert json.loads(final.stdout)["log_version_now"] == 2  # a then b; the re-load of a added none
    count = subprocess.run(
        [
            sys.executable,
            "-c",
            "import cxloop,sys; print(cxloop.open(sys.argv[1]).events().count().execute())",
            str(home),
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    assert int(count.stdout) == 5000
