"""Voice on real data in its own language: `voice compare` matches Portuguese reviews
(Olist) to the subjects by keywords, sentiment is cross-fitted, the most-negative list
holds only negative texts."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import cxloop
from cxloop.errors import ConfigError
from cxloop.services.voice import insights as voice_insights
from cxloop.services.voice.analysis import FOLDS, Voice
from cxloop.services.voice.subjects import load
from cxloop.settings import Settings
from cxloop.text.keywords import KeywordMatcher, fold, language_code
from cxloop.text.sentiment import StarSentiment, cross_fit, fold_of, stars_to_label
from cxloop.text.topics import clean, merge_similar, stop_words
from tests.conftest import olist_copy, shared_dataset


# ------------------------------------------------------------------ the matcher
def test_keywords_ignore_case_and_accents_and_allow_prefixes_plurals_and_gaps() -> None:
    m = KeywordMatcher(
        {
            "delivery": {"pt": ["nao receb*", "atras*", "entrega"]},
            "refund": {"pt": ["reembols*", "dinheiro de volta"]},
        },
        gap=2,
    )
    assert fold("NÃO Recebi, hasn't") == "nao recebi, hasnt"
    assert m.best("NÃO RECEBI o produto", "pt") == "delivery"
    assert m.best("Não me foi ainda recebido", "pt") is None  # 3 words apart
    assert m.best("Não me foi recebido", "pt") == "delivery"  # 2 words apart
    assert m.best("não, eu recebi", "pt") == "delivery"  # 1 word apart
    assert m.best("Entregas atrasadas", "pt") == "delivery"  # plural, prefix
    assert m.best("Entregador", "pt") is None  # no prefix star: a whole word
    assert m.scores("Quero meu dinheiro de volta, não recebi", "pt") == {
        "delivery": 2,
        "refund": 3,
    }
    assert m.best("Não recebi", "en") is None  # another language's keywords do not apply
    assert language_code("pt-BR", "en") == "pt" and language_code(None, "en") == "en"


def test_subjects_file_adds_a_language_to_the_built_in_subjects(tmp_path: Path) -> None:
    mine = tmp_path / "voice.toml"
    mine.write_text(
        'extends = "built-in"\n'
        "[subjects.delivery_promises.keywords]\n"
        'es = ["retras*", "no lleg*"]\n'
        "[subjects.warranty]\n"
        'kind = "policy"\ndepartment = "returns"\ntitle = "Warranty"\n'
        'keywords.es = ["garantia"]\n'
    )
    config = load(mine)
    keys = [s.key for s in config.subjects]
    assert keys[0] == "delivery_promises" and keys[-1] == "warranty"
    delivery = config.subjects[0]
    assert delivery.keywords["es"] == ("retras*", "no lleg*")
    assert "atras*" in delivery.keywords["pt"]  # the built-in languages stay
    matcher = config.matcher()
    assert matcher.best("El pedido no llegó", "es") == "delivery_promises"
    assert matcher.best("Quiero usar la garantía", "es") == "warranty"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            '[subjects.x]\nkind = "policy"\ndepartment = "d"\ntitle = "X"\nkeywords.pt = ["a**"]\n',
            r"subject 'x', keywords.pt: keyword 'a\*\*'",
        ),
        (
            '[subjects.x]\nkind = "policy"\ndepartment = "d"\ntitle = "X"\n',
            "subject 'x': expected example phrases or keywords",
        ),
        ('extends = "demo"\n', "field 'extends'"),
        ("keyword_gap = -1\n[subjects.x]\n", "field 'keyword_gap'"),
        ('langauge = "pt"\n', "unknown field 'langauge'"),
    ],
)
def test_subjects_file_errors_name_the_file_and_field(
    tmp_path: Path, body: str, message: str
) -> None:
    path = tmp_path / "mine.toml"
    path.write_text(body)
    with pytest.raises(ConfigError, match=message) as err:
        load(path)
    assert str(path) in str(err.value)


# ------------------------------------------------------------------ Olist, the raw files
#: A random sample of Olist reviews with a comment (pandas sample, random_state=23, drawn
#: after the keywords were written), labelled by hand: is the text about whether or when
#: the order arrived (late, not received, on time, early, the carrier)? review_id prefix.
HAND_LABELLED = [
    ("3501d2e2fea4", True),  # 'PESSIMO, PERGUNTEI VÁRIAS VEZES SOBRE A ENTREGA E NINGUÉM PO'
    ("55e57e40d93c", True),  # 'Recomendo. a entrega foi muito rápida... e essas lentes são '
    ("2f607bbd772f", True),  # 'Não entregaram, não deram satisfação e já compensou no meu c'
    ("12dfedb3f895", True),  # 'A minha encomenda foi entregue em tempo record, recomendo a '
    ("582f057bb43d", True),  # 'Tem quase 40 dias que fiz esse pedido e se não tivesse entra'
    ("a38b5db6a6e2", True),  # 'Super recomendo. ... prazo de entrega antecipado.'
    ("f1b52ad7ee15", True),  # 'Bom prazo, rapidez no envio. Tudo ok'
    ("62867611f5b7", True),  # 'Não recomendo!. Não consigo contato para saber notícias do p'
    ("915ffc387c38", False),  # 'Recebi o produto errado em minha casa. Já entrei em contato '
    ("7f9f3b385a7b", False),  # 'Produto veio faltando duas peças e eu pedi a troca e até ago'
    ("77b046b9fa3b", True),  # 'Comprei um patins pela loja e a entrega estava prevista para'
    ("d1ca42d06c40", True),  # 'Bom dia estou aguardando a minha encomenda não chegou eu já '
    ("1ad88164e0ea", True),  # 'Não recebi o produto'
    ("b69f35ecc7de", False),  # 'Muito bom'
    ("f11f131d8d9b", True),  # 'Não recebi o produto'
    ("d66eacfee358", False),  # 'Pra variar, foi uma ótima compra! Super recomendo'
    ("0bb0275b3ba4", False),  # 'no anuncio um aparelho original TCL, o que eu recebi é SKY, '
    ("9bbfa1bccdb6", True),  # 'a empresa entregou fracionado o produto, comprei duas embala'
    ("1b7064947d2b", False),  # 'gosteis muito do produto'
    ("f14ac82b3864", True),  # 'Realizei a compra e antes de receber me informaram que o pro'
    ("01b1e890078a", False),  # 'Compra de produto. Gostei do produto, mas veio com a numeraç'
    ("83c0bf970a71", False),  # 'Negativo . Ao verificar disponibilidade do produto havia em '
    ("eef257db1ec8", True),  # 'Ja é as egunda vez que tenho problemas com entregas'
    ("cc1411d93115", False),  # 'Parabens pelos serviços'
    ("b97e726c8ecc", False),  # 'Ótimo produto. Ajudo bastante no meu dia a dia'
    ("1fea7698113c", True),  # 'O produto chegou rápido, porém não veio o sabor que eu havia'
    ("caec8f7dbd9a", True),  # 'Recebi o produto de forma correta e antes até da data estipu'
    ("9ce6cc962bda", True),  # 'Produto entregue antes do prazo e veio em perfeito estado'
    ("6995b5b66c75", False),  # 'Nota 10. Recomendo sempre'
    ("718be340dc53", True),  # 'SIte com otimos produtos,chegou no prazo'
    ("312b3a6eded3", True),  # 'O produto não foi entregado no prazo determinado'
    ("630f3d08a352", False),  # 'Excelente . Recomendo'
    ("510a233ac023", True),  # 'O produto não chegou à unidade dos correios. Invés de tomar '
    ("880ae6d9d441", True),  # 'Nao recebi o produto'
    ("e2788cfbdb0d", False),  # 'Bom produto. O produto é bom, Só acho q deveria vim um manu'
    ("1cc6a1101285", True),  # 'BOA TARDE O PRODUTO AO CHEGOU NO ENDERECO O QUE DEVO FAZER?'
    ("6ff3798c96f4", True),  # 'Não recebi o produto . Consta que meu produto foi entregue ,'
    ("d4b0ef1ed637", True),  # 'Produto nao entregue. Péssimo parceiro da lannister! Nem sa'
    ("1435750acc55", False),  # 'Bom preço'
    ("87b7375a51de", False),  # 'TUDO CERTO COMO SEMPRE DAS lannister.COM'
    ("2636fafbeea1", True),  # 'Estou muito feliz com a responsabilidade ,pontualidade e ser'
    ("17ad7af970a7", True),  # 'comprei tento entra em contado eles nao responde, e nao entr'
    ("012befdc1333", False),  # 'Recebi um produto diferente do descrito e não consigo trocar'
    ("c9a026e699be", False),  # 'Solicitei um produto e foi entregue outro, estou aguardando '
    ("4cc84ffbff18", False),  # 'Descaso. Comprei, solicitei informações e não recebi. Cancel'
    ("f2c45cbb5f51", False),  # 'o produto veio errado como faço a troca?'
    ("43a43611d4d2", True),  # 'Pedido cancelado por falta de atenção da empresa! Receberam '
    ("2a52dd92cc9b", False),  # 'Bom'
    ("86051a2b5cb3", False),  # 'bom'
    ("eeed3605612f", False),  # 'Comprei duas esteiras de apoio para copo, paguei pelas duas '
]


def _olist_reviews() -> pd.DataFrame:
    data = shared_dataset("olist")
    r = pd.read_csv(data / "olist_order_reviews_dataset.csv")
    text = r.review_comment_title.fillna("") + ". " + r.review_comment_message.fillna("")
    r = r.assign(text=text.str.strip(". ")).query("text != ''")
    orders = pd.read_csv(data / "olist_orders_dataset.csv")
    return r.merge(orders, on="order_id", how="left")


@pytest.mark.olist
def test_portuguese_reviews_about_delivery_match_the_delivery_subject() -> None:
    r = _olist_reviews()
    matcher = load().matcher()
    subject = r["text"].map(lambda t: matcher.best(t, "pt"))
    delivered = pd.to_datetime(r.order_delivered_customer_date)
    late = delivered.dt.normalize() > pd.to_datetime(r.order_estimated_delivery_date)
    # unhappy reviews of orders that never arrived or arrived late: most say so
    unhappy = (delivered.isna() | late) & (r.review_score <= 2)
    share = (subject[unhappy] == "delivery_promises").mean()
    assert unhappy.sum() > 1500 and share > 0.6, (unhappy.sum(), share)
    # and precision / recall on the hand-labelled sample
    got, truth = [], []
    for prefix, about_delivery in HAND_LABELLED:
        row = r[r.review_id.str.startswith(prefix)].iloc[0]
        got.append(matcher.best(row.text, "pt") == "delivery_promises")
        truth.append(about_delivery)
    hit, want = np.array(got), np.array(truth)
    precision = (hit & want).sum() / hit.sum()
    recall = (hit & want).sum() / want.sum()
    assert precision >= 0.9 and recall >= 0.65, (precision, recall)


# ------------------------------------------------------------------ Olist, in a store
@pytest.fixture(scope="module")
def olist_voice(olist_store: Path, tmp_path_factory: pytest.TempPathFactory) -> Voice:
    cx = cxloop.open(olist_copy(olist_store, tmp_path_factory.mktemp("olist_voice")))
    cx.build_ledger()
    yield cx.voice()
    cx.close()


@pytest.mark.olist
def test_compare_on_olist_finds_the_delivery_complaints(olist_voice: Voice) -> None:
    c = voice_insights.compare(olist_voice)
    by = c.set_index("subject")
    delivery = by.loc["delivery_promises"]
    assert delivery["customers_texts"] > 1800
    assert delivery["verdict"].startswith("customers feel it")
    assert c.attrs["customer_texts_matched"] / c.attrs["customer_texts"] > 0.6
    assert c.attrs["matched_by"] == {"keywords": c.attrs["customer_texts_matched"]}
    assert set(c.attrs["customer_texts_by_language"]) == {"pt"}
    assert not c.attrs["languages_without_keywords"]
    assert {"subject", "title", "customers_texts", "verdict"} <= set(c.columns)


@pytest.mark.olist
def test_learned_sentiment_is_reported_on_held_out_texts(olist_voice: Voice) -> None:
    s = olist_voice.frame.join(olist_voice.sentiment, how="inner")
    check = olist_voice.sentiment_check
    assert check["folds"] == FOLDS and check["rated_texts"] == len(s)
    assert 0.6 < check["held_out_accuracy"] < 0.95
    assert s["model"].str.contains("held out").all()
    # auto chose it: it beats the lexicon and the prior held out (docs/voice.md)
    choice = olist_voice.sentiment_choice
    print("olist sentiment choice:", choice)
    assert choice["used"] == "learned" and choice["languages"] == ["pt"]
    assert choice["held_out_macro_f1"] >= choice["lexicon_macro_f1"] + choice["margin"]
    # in-sample the model would mostly repeat the stars; held out it does not
    labels = stars_to_label(s["score"])
    in_sample = StarSentiment().fit(s["text"].tolist(), labels.tolist())
    echoed = (in_sample.predict(s["text"].tolist()) == labels).mean()
    assert echoed > check["held_out_accuracy"] + 0.05
    # the last 30 days of Olist hold few negative texts: the list is short, not padded
    recent = s[s["ts"] > s["ts"].max() - pd.Timedelta(days=30)]
    assert (recent.sort_values("polarity").head(10)["sentiment"] != "negative").any()
    worst = voice_insights.most_negative(s)
    assert 1 <= len(worst) < 10
    assert (worst["sentiment"] == "negative").all() and (worst["polarity"] < 0).all()
    assert len(voice_insights.most_negative(s, days=365)) == 10


def test_cross_fit_never_scores_a_text_with_a_model_that_saw_it() -> None:
    texts = ["great", "great", "awful", "awful", "fine"] * 8 + ["great stuff"]
    labels = ["positive", "positive", "negative", "negative", "neutral"] * 8 + ["positive"]
    fold = fold_of(len(texts), 3)
    assert sorted(np.bincount(fold).tolist()) == [13, 14, 14]
    assert (fold == fold_of(len(texts), 3)).all()  # the same folds every run
    fitted = cross_fit(texts, labels, folds=3, min_df=1)
    assert fitted.n == len(texts) and fitted.folds == 3
    # fold 0 is scored by exactly the model trained on folds 1 and 2
    train = [i for i in range(len(texts)) if fold[i] != 0]
    other = StarSentiment(min_df=1).fit([texts[i] for i in train], [labels[i] for i in train])
    held = [texts[i] for i in range(len(texts)) if fold[i] == 0]
    assert np.allclose(fitted.polarity[fold == 0], other.polarity(held))
    assert set(fitted.predicted) <= {"negative", "neutral", "positive"}
    assert fitted.polarity.min() >= -1 and fitted.polarity.max() <= 1
    with pytest.raises(cxloop.CxloopError, match="at least 2 folds"):
        cross_fit(texts, labels, folds=1)


def test_most_negative_never_lists_a_text_scored_positive() -> None:
    ts = pd.Timestamp("2026-01-31")
    rows = pd.DataFrame(
        {
            "ts": [ts] * 4,
            "text": ["bad", "meh", "good", "great"],
            "sentiment": ["negative", "neutral", "positive", "positive"],
            "polarity": [-0.8, -0.01, 0.4, 0.909],
        }
    )
    worst = voice_insights.most_negative(rows, n=10)
    assert worst["text"].tolist() == ["bad"]


# ------------------------------------------------------------------ topics
def _care_messages() -> list[str]:
    path = shared_dataset("support_conversations") / "ibm_twitter_customer_care" / "dev.json"
    threads = json.loads(path.read_text(encoding="utf-8"))
    return [m["message"] for t in threads for m in t["dialogContent"] if "client" in m]


def test_clean_strips_handles_urls_and_link_placeholders_from_care_threads() -> None:
    raw = _care_messages()
    assert sum("@" in t for t in raw) > 400 and sum(t.endswith(" link") for t in raw) > 40
    cleaned = [clean(t) for t in raw]
    assert not any(re.search(r"(?<!\w)@\w", t) for t in cleaned)
    assert not any(re.search(r"https?\s*:|www\.", t) for t in cleaned)
    assert not any(t.lower().endswith(" link") for t in cleaned)
    assert clean("@Delta #refund please https: //x.co/a b link") == "refund please b"
    assert clean("any link to basic instructions?") == "any link to basic instructions?"


def test_care_thread_topics_are_not_brand_handles(tmp_path: Path) -> None:
    """The IBM care threads loaded as generic events (one contact per customer message):
    topics are about what people ask, not which brand they tagged."""
    path = shared_dataset("support_conversations") / "ibm_twitter_customer_care" / "dev.json"
    rows = []
    for thread in json.loads(path.read_text(encoding="utf-8")):
        for m in thread["dialogContent"]:
            if "client" in m:
                attrs = {"text": m["message"], "lang": "en"}
                rows.append(
                    {
                        "event_id": f"tw{m['tweet_ID']}",
                        "customer_id": f"tw:{m['client']}",
                        "event_type": "contact_inbound",
                        "ts": m["datetime"],
                        "ref": thread["dialogHeader"]["sessionID"],
                        "attrs": json.dumps(attrs),
                    }
                )
    pd.DataFrame(rows).to_csv(tmp_path / "contacts.csv", index=False)
    with cxloop.open(tmp_path / "store") as cx:
        cx.ingest(tmp_path / "contacts.csv")
        topics = cx.voice().topics()
    distinct = len({r["event_id"] for r in rows})  # 3 tweets sit in two threads each
    assert topics["texts"].sum() == distinct and topics.attrs["k_found"] >= topics.attrs["k"]
    words = {w for terms in topics["terms"] for term in terms for w in term.split()}
    examples = [e for ex in topics["examples"] for e in ex]
    handles = {"teamyoutube", "amazonhelp", "googlecare", "spotifycares", "rockstarsupport"}
    assert not words & handles, words & handles
    assert "link" not in words
    assert not any(re.search(r"(?<!\w)@\w|http", e) for e in examples)


def test_near_duplicate_topics_merge_and_distinct_ones_do_not() -> None:
    texts = [
        "Não recebi o produto até hoje",
        "ainda não recebi meu produto",
        "Produto não recebido, não recebi nada",
        "não recebi o pedido",
        "Entrega rápida, chegou antes do prazo",
        "chegou rápido, entrega antes do prazo",
    ]
    assigned = np.array([0, 0, 1, 1, 2, 2], np.int64)
    stop = stop_words(["pt"])
    assert {"não", "o", "do"} <= stop and "produto" not in stop
    merged = merge_similar(texts, assigned, 3, stop, threshold=0.4)
    assert merged.tolist() == [0, 0, 0, 0, 1, 1]
    assert merge_similar(texts, assigned, 3, stop, threshold=1.0).tolist() == [0, 0, 1, 1, 2, 2]


# ------------------------------------------------------------------ the language setting
def test_language_setting_is_the_default_for_texts_without_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert language_code(Settings.from_env({"CXLOOP_LANGUAGE": "pt-BR"}).language, "en") == "pt"
    assert Settings.from_env({}).language == "en"
    with pytest.raises(ConfigError, match="setting language"):
        Settings.from_env({"CXLOOP_LANGUAGE": "??"})
    said = ["Não recebi o pedido", "Entrega atrasada de novo", "Quero o reembolso", "Oi"]
    events = pd.DataFrame(
        {
            "event_id": [f"c{i}" for i in range(len(said))],
            "customer_id": [f"p{i}" for i in range(len(said))],
            "event_type": "contact_inbound",
            "ts": "2026-03-01T10:00:00Z",
            "attrs": [json.dumps({"text": t}) for t in said],
        }
    )
    events.to_csv(tmp_path / "contacts.csv", index=False)
    monkeypatch.setenv("CXLOOP_LANGUAGE", "pt-BR")
    with cxloop.open(tmp_path / "store") as cx:
        cx.ingest(tmp_path / "contacts.csv")
        _, texts = voice_insights.subject_texts(cx.voice())
    assert texts["subject"].fillna("-").tolist() == [
        "delivery_promises",
        "delivery_promises",
        "refund_policy",
        "-",
    ]
    assert set(texts["lang"]) == {"pt"} and texts.attrs["language"] == "pt"
    assert texts["matched_by"].tolist()[:3] == ["keywords"] * 3
