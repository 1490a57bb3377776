"""Voice of the customer and the employee: scores, sentiment, topics, emerging issues,
drivers and the side-by-side comparison, on the demo company and on public data."""

from __future__ import annotations

import csv
import json
import math
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import cxloop
from cxloop.domain.scores import change_p, estimate, t_quantile, wilson
from cxloop.errors import ConfigError
from cxloop.services.voice import insights as voice_insights
from cxloop.services.voice.analysis import Voice
from cxloop.text.embed import MODEL_SHA256, Embedder, weights_digest
from cxloop.text.sentiment import LexiconSentiment, StarSentiment, macro_f1, stars_to_label
from cxloop.text.topics import discover
from tests.conftest import shared_dataset


# ------------------------------------------------------------------ pure statistics
def test_nps_and_intervals() -> None:
    e = estimate("nps", [10, 10, 9, 9, 9, 8, 7, 7, 3, 0])
    assert e.value == pytest.approx(30.0) and e.n == 10
    # var of promoters - detractors: (0.5 + 0.2 - 0.3^2) / 10
    assert e.high - e.value == pytest.approx(100 * 1.959964 * math.sqrt(0.061), rel=1e-5)
    lo, hi = wilson(5, 10)
    assert (round(lo, 4), round(hi, 4)) == (0.2366, 0.7634)
    csat = estimate("csat", [5, 4, 4, 2, 1])
    assert csat.value == pytest.approx(60.0) and csat.bottom_share == pytest.approx(0.4)
    assert t_quantile(5) == pytest.approx(2.570582, rel=1e-6)
    assert t_quantile(30) == pytest.approx(2.042272, rel=1e-6)
    ces = estimate("ces", [7, 6, 5, 5, 4])
    assert ces.value == pytest.approx(5.4) and ces.low < 5.4 < ces.high
    same = estimate("nps", [10] * 50 + [0] * 50)
    assert change_p(same, same) == pytest.approx(1.0)
    assert change_p(estimate("nps", [10] * 100), estimate("nps", [0] * 50 + [10] * 50)) < 1e-6
    with pytest.raises(ConfigError, match="unknown score metric 'stars'"):
        estimate("stars", [1])


def test_packaged_model_is_the_upstream_minilm() -> None:
    assert weights_digest() == MODEL_SHA256
    v = Embedder().encode(["refund my money", "give me my money back", "nice weather today"])
    assert v.shape == (3, 384)
    assert np.allclose(np.linalg.norm(v, axis=1), 1, atol=1e-5)
    assert v[0] @ v[1] > 0.5 > v[0] @ v[2]


# ------------------------------------------------------------------ the demo company
@pytest.fixture(scope="module")
def demo(demo_store: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("voice") / "store"
    shutil.copytree(demo_store, home)
    return home


@pytest.fixture(scope="module")
def voice(demo: Path) -> Voice:
    with cxloop.open(demo) as cx:
        v = cx.voice()
        v.topic_model  # noqa: B018 - computed once for the module
        yield v


def test_scores_match_a_plain_computation(voice: Voice, demo: Path) -> None:
    with cxloop.open(demo) as cx:
        raw = cx.events().select("event_type", "attrs").execute()
    attrs = raw["attrs"].map(lambda a: json.loads(a) if a else {})
    nps = [
        float(a["score"])
        for a, t in zip(attrs, raw["event_type"], strict=True)
        if t == "survey_response" and a.get("metric") == "nps" and "score" in a
    ]
    promoters = sum(s >= 9 for s in nps) / len(nps)
    detractors = sum(s <= 6 for s in nps) / len(nps)
    overall = voice.scores().set_index("metric")
    assert overall.loc["nps", "n"] == len(nps)
    assert overall.loc["nps", "value"] == pytest.approx(100 * (promoters - detractors))
    assert set(overall.index) == {"nps", "csat", "ces", "review", "enps"}
    monthly = voice.scores(by="month", metric="nps")
    assert monthly["n"].sum() == len(nps) and monthly["change"].notna().sum() >= 5
    staff = voice.scores(by="department", voice="employee")
    assert set(staff["department"]) == {
        "support",
        "logistics",
        "fulfillment",
        "billing",
        "returns",
        "sales",
    }
    # the Cedar callback backlog and the injected failures weigh on support's eNPS
    by_dept = staff.set_index("department")["value"]
    assert by_dept["support"] < by_dept["sales"]
    with pytest.raises(ConfigError, match="cannot group scores by 'planet'"):
        voice.scores(by="planet")
    with pytest.raises(ConfigError, match="unknown voice 'staff'"):
        voice.scores(voice="staff")


def test_sentiment_uses_the_ratings_where_they_exist(voice: Voice) -> None:
    s = voice.sentiment
    rows = voice.frame.join(s, how="inner")
    models = rows.groupby("event_type")["model"].first()
    assert models["review"].startswith("learned from")
    assert models["contact_inbound"] == LexiconSentiment.name
    low = rows[(rows["event_type"] == "review") & (rows["score"] <= 2)]
    high = rows[(rows["event_type"] == "review") & (rows["score"] >= 4)]
    assert (low["sentiment"] == "negative").mean() > 0.8
    assert (high["sentiment"] == "positive").mean() > 0.7


def test_topics_have_labels_examples_and_cover_every_text(voice: Voice) -> None:
    topics = voice.topics()
    assert 2 <= topics.attrs["k"] <= 30
    assert topics["texts"].sum() == topics.attrs["texts"] == len(voice.customer_texts)
    assert topics["label"].str.len().gt(0).all()
    assert topics["examples"].map(len).ge(1).all()
    missing = topics[topics["terms"].map(lambda t: any("ashford" in w or "bed" in w for w in t))]
    assert not missing.empty, "the bed-frame batch (missing parts) is a topic of its own"


def test_topics_are_cached_per_log_version(demo: Path, voice: Voice) -> None:
    said: list[str] = []
    with cxloop.open(demo) as cx:
        again = cx.voice(progress=said.append)
        assert again.topics()["texts"].tolist() == voice.topics()["texts"].tolist()
    assert not [m for m in said if "embedding" in m or "clustering" in m]


def test_drivers_find_broken_promises(voice: Voice) -> None:
    d = voice_insights.drivers(voice).set_index("driver")
    broken = d.loc["broken delivery promise"]
    assert broken["coefficient"] < -10 and broken["coef_high"] < 0 and broken["p"] < 1e-6
    assert broken["mean_with"] < broken["mean_without"] and broken["cohens_d"] < -0.8
    assert d["kind"].isin(["topic", "promise"]).all()
    assert "Welch" in d.attrs["method"]


def test_compare_puts_employees_beside_customers(voice: Voice) -> None:
    c = voice_insights.compare(voice).set_index("subject")
    assert (c["employees_texts"] > 0).all() and (c["customers_texts"] > 0).all()
    assert c.loc["callbacks", "verdict"] == "both say it hurts: fix it"
    assert c.loc["callbacks", "employees_examples"]
    assert c.attrs["customer_texts_matched"] > 100


def test_subjects_file_errors_name_the_field(tmp_path: Path, voice: Voice) -> None:
    bad = tmp_path / "voice.toml"
    bad.write_text(
        '[subjects.refunds]\nkind = "policy"\ndepartment = "returns"\n'
        'title = "Refunds"\nphrases = "refund late"\n'
    )
    with pytest.raises(ConfigError, match="subject 'refunds', field 'phrases'"):
        voice_insights.compare(voice, bad)


# ------------------------------------------------------------------ emerging issues
def _reviews(path: Path, rows: list[tuple[str, str, int, str]]) -> None:
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["event_id", "customer_id", "event_type", "ts", "ref", "attrs"])
        for i, (day, text, score, lang) in enumerate(rows):
            attrs = json.dumps({"score": score, "text": text, "lang": lang})
            w.writerow([f"r{i}", f"c{i % 97}", "review", day, f"o{i}", attrs])


THEMES = {
    "late": ["My parcel arrived a week late.", "Delivery was very late again."],
    "great": ["Lovely product, works great.", "Great quality, very happy."],
    "billing": ["I was charged twice for one order.", "Double charge on my card."],
    "app": ["The app keeps crashing at checkout.", "Checkout page freezes in the app."],
}


def _history(spike: bool) -> list[tuple[str, str, int, str]]:
    rng = np.random.default_rng(3)
    rows = []
    for day in range(120):
        date = (pd.Timestamp("2026-01-01") + pd.Timedelta(days=day)).strftime("%Y-%m-%d")
        weights = np.array([1, 3, 1, 1.0])
        if spike and day >= 92:
            weights = np.array([1, 3, 6, 1.0])  # a billing problem in the last four weeks
        for _ in range(4):
            theme = list(THEMES)[rng.choice(4, p=weights / weights.sum())]
            text = THEMES[theme][rng.integers(2)]
            rows.append((f"{date}T12:00:00Z", text, 5 if theme == "great" else 2, "en"))
    return rows


@pytest.mark.parametrize("spike", [True, False])
def test_emerging_flags_a_real_rise_only(tmp_path: Path, spike: bool) -> None:
    _reviews(tmp_path / "reviews.csv", _history(spike))
    with cxloop.open(tmp_path / "store") as cx:
        cx.ingest(tmp_path / "reviews.csv")
        v = cx.voice(k=4)
        found = voice_insights.emerging(v)
    flagged = found[found["emerging"]]
    assert "exact binomial" in found.attrs["method"]
    assert "Benjamini-Hochberg" in found.attrs["method"]
    if spike:
        assert len(flagged) >= 1
        assert flagged["kind"].eq("volume").all()
        assert any("charge" in ex for ex in flagged.iloc[0]["examples"])
    else:
        assert flagged.empty


# ------------------------------------------------------------------ public data
@pytest.mark.olist
def test_sentiment_learned_from_olist_stars_beats_plain_tfidf() -> None:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    r = pd.read_csv(shared_dataset("olist") / "olist_order_reviews_dataset.csv")
    text = r.review_comment_title.fillna("") + ". " + r.review_comment_message.fillna("")
    r = r.assign(text=text.str.strip(". ")).query("text != ''")
    r = r.sample(frac=1.0, random_state=0)
    y = stars_to_label(r.review_score)
    cut = int(len(r) * 0.75)
    train, test = r.text.tolist()[:cut], r.text.tolist()[cut:]
    ours = StarSentiment().fit(train, y[:cut].tolist())
    vec = TfidfVectorizer()
    base = LogisticRegression(max_iter=1000).fit(vec.fit_transform(train), y[:cut])
    f_ours = macro_f1(y[cut:], ours.predict(test))
    f_base = macro_f1(y[cut:], base.predict(vec.transform(test)))
    assert f_ours > f_base + 0.02 and f_ours > 0.6, (f_ours, f_base)
    assert ours.predict(["Produto chegou antes do prazo, recomendo!"])[0] == "positive"
    assert ours.predict(["Não recebi o produto, péssimo"])[0] == "negative"


def test_lexicon_on_labelled_english_sentences(tmp_path: Path) -> None:
    folder = shared_dataset("review_sentiment") / "uci_sentiment_labelled_sentences"
    rows = pd.read_csv(
        folder / "amazon_cells_labelled.txt",
        sep="\t",
        header=None,
        names=["text", "label"],
        quoting=3,
    )
    pred = LexiconSentiment().predict(rows.text.tolist())
    decided = pred != "neutral"
    truth = np.where(rows.label == 1, "positive", "negative")
    assert (pred[decided] == truth[decided]).mean() > 0.8 and decided.mean() > 0.7
    assert LexiconSentiment().predict(["Worst support ever. I waited 3 hours."])[0] == "negative"
    model = StarSentiment().fit(rows.text.tolist(), truth.tolist())
    model.save(tmp_path / "s.pkl")
    again = StarSentiment.load(tmp_path / "s.pkl")
    assert (again.predict(rows.text.tolist()) == model.predict(rows.text.tolist())).all()
    (tmp_path / "bad.pkl").write_text("nope")
    with pytest.raises(cxloop.CxloopError, match="not a cxloop sentiment model"):
        StarSentiment.load(tmp_path / "bad.pkl")


def test_topics_recover_banking77_intents() -> None:
    from sklearn.metrics import normalized_mutual_info_score

    test = pd.read_csv(shared_dataset("banking77") / "test.csv")
    keep = sorted(test.category.unique())[:8]
    part = test[test.category.isin(keep)]
    x = Embedder().encode(part.text.tolist())
    _, assigned = discover(x, part.text.tolist(), k=8)
    assert normalized_mutual_info_score(part.category, assigned) > 0.6
    auto, _ = discover(x, part.text.tolist(), min_size=10)
    assert 2 <= auto.k <= 30 and set(auto.k_scores) >= {auto.k}


def test_drivers_regression_is_least_squares_with_hc1_errors() -> None:
    """The drivers' fit (statsmodels) against the textbook HC1 sandwich, by hand."""
    rng = np.random.default_rng(7)
    x = np.column_stack([np.ones(200), rng.integers(0, 2, 200), rng.normal(size=200)])
    y = x @ np.array([50.0, -12.0, 3.0]) + rng.normal(scale=1 + 4 * x[:, 1], size=200)
    fit = voice_insights._ols(x, y)
    bread = np.linalg.inv(x.T @ x)
    coef = bread @ x.T @ y
    resid = y - x @ coef
    cov = bread @ ((x * resid[:, None] ** 2).T @ x) @ bread * 200 / (200 - 3)
    assert fit.coef == pytest.approx(coef, rel=1e-9)
    assert fit.se == pytest.approx(np.sqrt(np.diag(cov)), rel=1e-9)
    a, b = y[x[:, 1] == 1], y[x[:, 1] == 0]
    low, high = voice_insights._welch(a, b)
    va, vb = a.var(ddof=1) / len(a), b.var(ddof=1) / len(b)
    df = (va + vb) ** 2 / (va**2 / (len(a) - 1) + vb**2 / (len(b) - 1))
    half = t_quantile_df(df) * math.sqrt(va + vb)
    assert (low, high) == pytest.approx((a.mean() - b.mean() - half, a.mean() - b.mean() + half))


def t_quantile_df(df: float) -> float:
    from scipy.stats import t

    return float(t.ppf(0.975, df))
