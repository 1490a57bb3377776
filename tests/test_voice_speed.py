"""The voice models' speed without a change of result (docs/voice.md#speed): the threads
they use (``voice_threads``) and topics kept for as long as the customers' texts are the
same, whatever other events the log gains."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from threadpoolctl import threadpool_info

import cxloop
from cxloop.errors import ConfigError
from cxloop.services.brief.refresh import settings_digest
from cxloop.settings import Settings
from cxloop.text import embed
from cxloop.text.threads import cores, limited, thread_count
from cxloop.text.topics import clean, discover
from tests.conftest import shared_dataset

TEXTS = 60


def _events(path: Path, rows: list[dict[str, object]]) -> Path:
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


def _contacts(texts: list[str], start: int = 0) -> list[dict[str, object]]:
    return [
        {
            "event_id": f"speed-{start + i}",
            "customer_id": f"c{(start + i) % 20}",
            "event_type": "contact_inbound",
            "ts": (pd.Timestamp("2024-03-01") + pd.Timedelta(hours=start + i)).isoformat(),
            "attrs": json.dumps({"text": t, "lang": "en"}),
        }
        for i, t in enumerate(texts)
    ]


@pytest.fixture(scope="module")
def bank_texts() -> list[str]:
    """Real customer messages (Banking77 training texts), distinct."""
    data = shared_dataset("banking77")
    texts = pd.read_csv(data / "train.csv").text.drop_duplicates()
    return [str(t) for t in texts.sample(n=TEXTS + 1, random_state=3)]


def test_threads_are_limited_inside_and_restored_after() -> None:
    import torch

    assert thread_count(3) == 3
    assert 1 <= thread_count(0) <= cores()
    torch_before = torch.get_num_threads()
    pools_before = [p["num_threads"] for p in threadpool_info()]
    with limited(1):
        assert torch.get_num_threads() == 1
        assert all(p["num_threads"] == 1 for p in threadpool_info())
    assert torch.get_num_threads() == torch_before
    assert [p["num_threads"] for p in threadpool_info()] == pools_before


def test_the_setting_is_read_and_checked() -> None:
    assert Settings.from_env({}).voice_threads == 0
    assert Settings.from_env({"CXLOOP_VOICE_THREADS": "1"}).voice_threads == 1
    with pytest.raises(ConfigError, match=r"voice_threads \(CXLOOP_VOICE_THREADS\)"):
        Settings.from_env({"CXLOOP_VOICE_THREADS": "two"})
    # speed, not results: the refresh's kept entries stay valid when it changes
    one = Settings.from_env({"CXLOOP_VOICE_THREADS": "1"})
    assert settings_digest(one) == settings_digest(Settings.from_env({}))


def test_topics_do_not_depend_on_the_threads(bank_texts: list[str]) -> None:
    texts = [clean(t) for t in bank_texts]
    x = embed.Embedder().encode(texts)
    with limited(1):
        one, a1 = discover(x, texts, 3)
    with limited(2):
        two, a2 = discover(x, texts, 3)
    assert np.array_equal(a1, a2)
    assert [t.label for t in one.topics] == [t.label for t in two.topics]


def test_topics_are_kept_while_the_texts_are_the_same(
    bank_texts: list[str], tmp_path: Path
) -> None:
    home = tmp_path / "store"
    model_file = home / "voice" / "topics.pkl"
    with cxloop.open(home) as cx:
        cx.ingest(_events(tmp_path / "a.csv", _contacts(bank_texts[:TEXTS])), refresh=False)
        first = cx.voice().topics()
        written = model_file.stat().st_mtime_ns
        # an event without a text: a new log version, the same customer texts
        order = {
            "event_id": "speed-order",
            "customer_id": "c1",
            "event_type": "order_placed",
            "ts": "2024-03-10T00:00:00",
            "attrs": json.dumps({"order_id": "o1", "amount": 10}),
        }
        version = int(cx.workspace.log.version)
        cx.ingest(_events(tmp_path / "b.csv", [order]), refresh=False)
        assert int(cx.workspace.log.version) > version
        encoded = embed.ENCODED["texts"]
        again = cx.voice().topics()
        assert model_file.stat().st_mtime_ns == written  # read, not fitted again
        assert embed.ENCODED["texts"] == encoded
        pd.testing.assert_frame_equal(again, first)
        # one new text: fitted again, only that text embedded
        new = _contacts(bank_texts[TEXTS:], start=TEXTS)
        cx.ingest(_events(tmp_path / "c.csv", new), refresh=False)
        third = cx.voice().topics()
        assert model_file.stat().st_mtime_ns != written
        assert embed.ENCODED["texts"] == encoded + 1
        assert third["texts"].sum() == TEXTS + 1


def test_idle_cores_do_not_count_the_asking_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    """A refresh that computed the brief for a minute has put its own 1 in the load
    average: on a quiet 2-core machine it still gets both cores; on a busy one, one."""
    from cxloop.text import threads

    monkeypatch.setattr(threads, "cores", lambda: 2)
    for load, expected in [(0.0, 2), (1.0, 2), (1.4, 2), (1.6, 1), (2.0, 1), (18.0, 1)]:
        monkeypatch.setattr(threads.os, "getloadavg", lambda load=load: (load, load, load))
        assert threads.idle_cores() == expected, load
    assert threads.thread_count(3) == 3
