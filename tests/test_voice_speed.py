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


def test_idle_cores_are_the_cores_nothing_else_runs_on_now(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The kernel's count of runnable tasks (the asking one among them), its largest over
    a few reads: right after a heavy job the machine is idle although the 1-minute load
    average still says busy."""
    from cxloop.text import threads

    real = threads.runnable_now()  # this machine's kernel: this process at least
    assert real is None or real >= 1
    monkeypatch.setattr(threads, "cores", lambda: 2)
    monkeypatch.setattr(threads.os, "getloadavg", lambda: (18.0, 18.0, 18.0))
    loadavg = tmp_path / "loadavg"
    monkeypatch.setattr(threads, "LOADAVG", loadavg)
    for runnable, expected in [(1, 2), (2, 1), (3, 1), (40, 1)]:
        loadavg.write_text(f"18.00 9.00 3.00 {runnable}/108 4242\n")
        assert threads.runnable_now() == runnable
        assert threads.idle_cores() == expected, runnable
    # the largest of the reads: one busy moment among idle ones counts
    reads = iter(["0 0 0 1/9 1", "0 0 0 3/9 1", "0 0 0 1/9 1"])

    class Flickering:
        def read_text(self) -> str:
            return next(reads)

    assert threads.runnable_now(samples=3, gap=0, path=Flickering()) == 3  # type: ignore[arg-type]
    assert threads.runnable_now(path=tmp_path / "absent") is None
    assert threads.thread_count(3) == 3


def test_idle_cores_fall_back_on_the_load_average(monkeypatch: pytest.MonkeyPatch) -> None:
    """Where the kernel does not say what runs now: the load average, not counting the
    asking thread's own 1 (a refresh that computed the brief for a minute put it there)."""
    from cxloop.text import threads

    monkeypatch.setattr(threads, "cores", lambda: 2)
    monkeypatch.setattr(threads, "runnable_now", lambda: None)
    for load, expected in [(0.0, 2), (1.0, 2), (1.4, 2), (1.6, 1), (2.0, 1), (18.0, 1)]:
        monkeypatch.setattr(threads.os, "getloadavg", lambda load=load: (load, load, load))
        assert threads.idle_cores() == expected, load
    assert threads.thread_count(3) == 3


def test_the_embedding_precision_is_a_checked_setting(tmp_path: Path) -> None:
    """``auto`` takes bfloat16 only where the CPU has bfloat16 units (its flags say so)."""
    assert Settings.from_env({}).embedding_precision == "auto"
    assert Settings.from_env({"CXLOOP_EMBEDDING_PRECISION": " BFloat16 "}).embedding_precision == (
        "bfloat16"
    )
    with pytest.raises(ConfigError, match=r"embedding_precision \(CXLOOP_EMBEDDING_PRECISION\)"):
        Settings.from_env({"CXLOOP_EMBEDDING_PRECISION": "float16"})
    # it changes the vectors a little: the refresh's kept entries are not reused across it
    other = Settings.from_env({"CXLOOP_EMBEDDING_PRECISION": "float32"})
    assert settings_digest(other) != settings_digest(Settings.from_env({}))
    amx = tmp_path / "amx"
    amx.write_text("processor\t: 0\nflags\t\t: fpu sse2 avx2 avx512f amx_bf16 amx_tile\n")
    older = tmp_path / "older"
    older.write_text("processor\t: 0\nflags\t\t: fpu sse2 avx2 fma\n")
    assert embed.cpu_has_bf16(amx) and not embed.cpu_has_bf16(older)
    assert not embed.cpu_has_bf16(tmp_path / "absent")
    assert embed.precision("float32") == "float32"
    assert embed.precision("bfloat16") == "bfloat16"
    assert embed.precision("auto") == ("bfloat16" if embed.cpu_has_bf16() else "float32")
    with pytest.raises(ConfigError, match="float16"):
        embed.precision("float16")


def test_bfloat16_vectors_are_the_float32_ones_within_a_hair(bank_texts: list[str]) -> None:
    texts = [clean(t) for t in bank_texts]
    full = embed.Embedder(precision="float32").encode(texts)
    half = embed.Embedder(precision="bfloat16").encode(texts)
    assert half.dtype == np.float32 and half.shape == full.shape
    assert np.allclose(np.linalg.norm(half, axis=1), 1, atol=1e-5)
    cosine = (half * full).sum(axis=1)
    assert cosine.min() > 0.999, cosine.min()
    assert not np.array_equal(half, full)  # it did run in bfloat16


def test_another_precision_embeds_again_rather_than_mix(
    bank_texts: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "store"
    with cxloop.open(home) as cx:
        cx.ingest(_events(tmp_path / "a.csv", _contacts(bank_texts[:20])), refresh=False)
    for precision, embedded in [("float32", 20), ("float32", 0), ("bfloat16", 20)]:
        monkeypatch.setenv("CXLOOP_EMBEDDING_PRECISION", precision)
        before = embed.ENCODED["texts"]
        with cxloop.open(home) as cx:
            voice = cx.voice()
            assert voice.embedder.precision == precision
            voice.embeddings(voice.customer_texts)
        assert embed.ENCODED["texts"] - before == embedded, precision
