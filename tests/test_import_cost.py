"""What a fresh ``cxloop`` process imports: the heavy libraries only where they are used.

Every ``cxloop`` command is a new process, and importing scikit-learn and SciPy cost it
more CPU than the rest of its start (docs/development.md, "Where the time goes"). These
tests look at ``sys.modules`` of a real fresh process; how long it takes is for the
benchmarks, not for a test.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.test_ingest import GOOD, write_csv

# fitting, statistics, deep learning, other engines: imported by the code that needs them
HEAVY = (
    "sklearn",
    "scipy",
    "statsmodels",
    "joblib",
    "torch",
    "sentence_transformers",
    "transformers",
    "pyspark",
    "psycopg",
    "hypothesis",
    "matplotlib",
    "plotly",
)
# the API and the dashboard: imported by `cxloop serve` only
SERVER = ("fastapi", "uvicorn", "starlette", "jinja2")
# cxloop's own code for the other commands: `import cxloop` loads its names on first use,
# the library's methods and the CLI's commands import the services they call
OTHER_COMMANDS = (
    "cxloop.services.brief.daily",
    "cxloop.services.outcomes.health",
    "cxloop.services.incidents.outreach",
    "cxloop.services.journeys.funnels",
    "cxloop.services.journeys.stages",
    "cxloop.services.recovery.advice",
    "cxloop.services.outcomes.remedies",
    "cxloop.text.topics",
)
NAMES = (*HEAVY, *SERVER, *OTHER_COMMANDS, "cxloop.client")

# Runs in the child: imports, then commands through the CLI's own entry point (the same
# process, so that what each command imported is still in sys.modules), printing the
# heavy modules present after each step as one JSON object.
CHILD = """
import json, sys
names = json.loads(sys.argv[1])
def present():
    return sorted(n for n in names if n in sys.modules)
seen = {}
import cxloop
seen["import cxloop"] = present()
from cxloop.cli.main import app
seen["import cxloop.cli.main"] = present()
for step in json.loads(sys.argv[2]):
    try:
        app(step, standalone_mode=False)
    except SystemExit as stop:
        assert not stop.code, (step, stop.code)
    seen["cxloop " + " ".join(step)] = present()
print(json.dumps(seen))
"""


def fresh(steps: list[list[str]], home: Path) -> dict[str, list[str]]:
    env = {**os.environ, "CXLOOP_HOME": str(home), "COLUMNS": "200"}
    proc = subprocess.run(
        [sys.executable, "-c", CHILD, json.dumps(NAMES), json.dumps(steps)],
        env=env,
        text=True,
        capture_output=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    seen: dict[str, list[str]] = json.loads(proc.stdout.strip().splitlines()[-1])
    return seen


def test_cxloop_and_its_cli_start_without_the_heavy_libraries(tmp_path: Path) -> None:
    events = write_csv(tmp_path / "events.csv", GOOD)
    steps = [
        ["--help"],
        ["ingest", str(events), "--no-refresh", "--format", "json"],
        ["timeline", "c1", "--format", "json"],
        ["promises", "--format", "json"],
        ["outcomes", "retention", "--format", "json"],
    ]
    seen = fresh(steps, tmp_path / "store")
    assert list(seen) == [
        "import cxloop",
        "import cxloop.cli.main",
        *("cxloop " + " ".join(s) for s in steps),
    ]
    *light, last = seen
    assert seen["import cxloop"] == []  # not even the library: its names load on first use
    without_library = {step: sorted(set(seen[step]) - {"cxloop.client"}) for step in light}
    assert without_library == {step: [] for step in light}
    # the check sees a heavy import once a command makes one: `outcomes retention` draws its
    # intervals with statsmodels (and SciPy under it)
    assert {"scipy", "statsmodels"} <= set(seen[last])
    assert not set(seen[last]) & {"torch", "sklearn", *SERVER}
