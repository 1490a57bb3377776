"""Mapping files (TOML): format features, every mistake in a file, hostile rows.

Most tests map a small file in a scratch DuckDB (``stage``), as ``cxloop mappings check
--sample`` does; a few load a real store to show what a user sees.
"""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pandas as pd
import pytest

import cxloop
from cxloop.errors import CxloopError, InputError
from cxloop.ingest.mapfile.engine import FileMapping
from cxloop.ingest.mapfile.spec import MappingFileError
from cxloop.ingest.mappings import get_mapping
from cxloop.ingest.vocabulary import Vocabulary
from cxloop.store.state import Problem
from tests.test_cli import run, run_here

TWCS = [
    "tweet_id,author_id,inbound,created_at,text,response_tweet_id,in_response_to_tweet_id",
    "1,115712,True,Tue Oct 31 22:10:47 +0000 2017,@sprintcare and how do you propose we do that,2,",
    "2,sprintcare,False,Tue Oct 31 22:11:45 +0000 2017,@115712 I understand. I would like "
    "to assist you. We would need to get you into a private secured connection,,1",
    "3,115712,True,Tue Oct 31 22:08:27 +0000 2017,@sprintcare I have sent several private "
    "messages and no one is responding as usual,4,",
    '4,sprintcare,False,Tue Oct 31 21:54:49 +0000 2017,"@115712 Please send us a Private '
    'Message so that we can further assist you, thanks",,3',
    '5,115713,True,Tue Oct 31 22:16:48 +0000 2017,"@AppleSupport it says ""error 53""\n'
    'and then nothing 😡😡 ""quoted, with a comma""",6,',
    "6,AppleSupport,False,Tue Oct 31 22:20:01 +0000 2017,@115713 Sorry to hear that. "
    "Which iOS version are you on?,,5",
    # a reply to a tweet that is not in the file: the customer is the handle it addresses
    "7,AmazonHelp,False,Wed Nov 01 09:00:00 +0000 2017,@115799 We're sorry! Please DM us.,,999",
    # hostile rows: each is quarantined with its file, row and field
    "8,115714,True,31/10/2017 22:00,@AmazonHelp where is my parcel,,",
    "9,,True,Tue Oct 31 22:16:48 +0000 2017,@AmazonHelp nobody wrote me,,",
    "10,115715,Maybe,Tue Oct 31 22:16:48 +0000 2017,@AmazonHelp am I inbound?,,",
    "11,115716,True,Tue Oct 31 22:16:48 +0000 2017,@AmazonHelp,,",
]


def stage(
    mapping: FileMapping | str, path: Path, vocab: Vocabulary | None = None
) -> tuple[list[dict[str, object]], list[Problem], int]:
    """Map ``path`` in a scratch DuckDB: (events, problems, rows read)."""
    m = mapping if isinstance(mapping, FileMapping) else get_mapping(mapping)
    assert isinstance(m, FileMapping)
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    (vocab or Vocabulary(("sales", "support"))).apply(con)
    staged = m.stage(con, path, "_staged")
    rel = con.execute("SELECT * FROM _staged ORDER BY source_file, source_row, event_id")
    cols = [d[0] for d in rel.description]
    rows = [dict(zip(cols, r, strict=True)) for r in rel.fetchall()]
    con.close()
    for r in rows:
        r["attrs"] = json.loads(str(r["attrs"])) if r["attrs"] else None
    return rows, staged.problems, staged.rows_read


def mapping(tmp_path: Path, text: str, name: str = "m.toml") -> FileMapping:
    f = tmp_path / name
    f.write_text(text, encoding="utf-8")
    return FileMapping.from_file(f)


def test_twcs_fixture_maps_tweets_and_quarantines_hostile_rows(tmp_path: Path) -> None:
    f = tmp_path / "twcs.csv"
    f.write_text("\n".join(TWCS) + "\n", encoding="utf-8")
    rows, problems, read = stage("twcs", f)
    assert read == 11
    by_id = {r["event_id"]: r for r in rows}
    assert set(by_id) == {f"twcs:{i}" for i in (*range(1, 8), 11)}
    assert by_id["twcs:2"]["event_type"] == "reply_sent"
    assert by_id["twcs:2"]["customer_id"] == "115712"  # the author of tweet 1, answered
    assert by_id["twcs:2"]["ref"] == "1"  # shares the ref of the tweet it answers
    assert by_id["twcs:1"]["ref"] == "1" and by_id["twcs:1"]["channel"] == "twitter"
    assert by_id["twcs:7"]["customer_id"] == "115799"  # parent absent: the handle addressed
    assert str(by_id["twcs:1"]["ts"]) == "2017-10-31 22:10:47"
    assert by_id["twcs:5"]["attrs"]["text"].startswith('@AppleSupport it says "error 53"\n')
    assert by_id["twcs:6"]["attrs"]["brand"] == "AppleSupport"
    assert by_id["twcs:1"]["department"] == "support"
    found = {(p.row, p.field): p.reason for p in problems}
    assert set(found) == {(8, "created_at"), (9, "author_id"), (10, "(row)")}
    assert "matched no [[events]] table" in found[(10, "(row)")]
    assert "unparsable time 31/10/2017 22:00" in found[(8, "created_at")]
    assert found[(9, "author_id")] == "is empty (required)"
    assert all(p.file == str(f) and p.record for p in problems)


def test_twcs_official_sample_loads_every_tweet() -> None:
    from tests.conftest import shared_dataset

    sample = shared_dataset("support_conversations") / "twcs_sample" / "sample.csv"
    rows, problems, read = stage("twcs", sample)
    assert problems == [] and read == 93 and len(rows) == 93
    with sample.open(encoding="utf-8") as fh:
        import csv

        raw = list(csv.DictReader(fh))
    inbound = sum(r["inbound"] == "True" for r in raw)
    assert sum(r["event_type"] == "contact_inbound" for r in rows) == inbound


FEATURES = """
name = "features"
unmatched = "skip"
[input]
format = "json"
records = "export.items"


[lookup.agent]
input = "input"
key = "id"
match = "handled_by"

[[events]]
name = "order"
when = { column = "kind", equals = "order" }
event_id = "{{x}}-{id}"
customer_id = { column = "customer.id", lower = true }
event_type = { column = "status", map = { "NEW" = "order_placed", "SHIPPED" = "order_shipped" } }
ts = { column = "placed", format = "%d/%m/%Y %H:%M", zone = "Europe/Paris" }
due_at = { column = "promised", end_of_day = true }
amount = { column = "total", decimal = "," }
department = "{customer.team}"
channel = { column = "via", default = "web" }
ref = "O-{id}"
attrs_rest = true
[events.attrs]
items = { column = "lines", type = "json" }
gift = { column = "gift", type = "boolean" }
n = { column = "lines[0].qty", type = "integer" }
agent_name = "{agent.name}"

[[events]]
name = "note"
each = "notes"
as = "note"
when = [{ column = "kind", equals = "order" }, { column = "notes", present = true }]
customer_id = "{customer.id}"
event_type = "contact_inbound"
ts = { column = "note.at", format = "epoch_ms", plus = "note.delay" }
ref = "O-{id}"
[events.attrs]
text = "{note.text}"
position = { column = "note#", type = "integer" }
code = { column = "note.text", pattern = '#(\\d+)', otherwise = { value = "none" } }
"""

DOC = {
    "export": {
        "items": [
            {
                "id": 1,
                "kind": "order",
                "customer": {"id": "C-ABC", "team": "  Research &   Development "},
                "status": "NEW",
                "placed": "01/07/2024 10:00",
                "promised": "2024-07-05",
                "total": "1.234,50",
                "lines": [{"sku": "x", "qty": 2}],
                "gift": "true",
                "handled_by": 3,
                "extra": "kept",
                "notes": [
                    {"at": 1719828000000, "text": "call me #42", "delay": "00:01:00"},
                    {"at": 1719831600000, "text": "thanks", "delay": 30},
                ],
            },
            {"id": 2, "kind": "order", "customer": {"id": "c2"}, "status": "LOST", "placed": "x"},
            {"id": 3, "kind": "agent", "name": "Ana"},
            "not an object",
        ]
    }
}


def test_format_features_on_a_json_document(tmp_path: Path) -> None:
    f = tmp_path / "export.json"
    f.write_text(json.dumps(DOC), encoding="utf-8")
    rows, problems, read = stage(mapping(tmp_path, FEATURES), f)
    assert read == 4
    order = next(r for r in rows if r["event_type"] == "order_placed")
    assert order["event_id"] == "{x}-1" and order["customer_id"] == "c-abc"
    assert str(order["ts"]) == "2024-07-01 08:00:00"  # 10:00 in Paris (summer) is 08:00 UTC
    assert str(order["due_at"]) == "2024-07-05 23:59:59"
    assert order["amount"] == 1234.5
    assert order["department"] == "research & development"  # accepted, normalised
    assert order["channel"] == "web" and order["ref"] == "O-1"
    attrs = order["attrs"]
    assert attrs["items"] == [{"sku": "x", "qty": 2}] and attrs["gift"] is True
    assert attrs["n"] == 2 and attrs["agent_name"] == "Ana"
    assert attrs["extra"] == "kept" and "status" not in attrs  # the rest, unmapped columns
    notes = sorted(
        (r for r in rows if r["event_type"] == "contact_inbound"), key=lambda r: str(r["ts"])
    )
    assert [n["attrs"]["position"] for n in notes] == [1, 2]
    assert [str(n["ts"]) for n in notes] == ["2024-07-01 10:01:00", "2024-07-01 11:00:30"]
    assert [n["attrs"]["code"] for n in notes] == ["42", "none"]
    assert all(n["customer_id"] == "C-ABC" for n in notes)  # no lower: as given
    found = {(p.row, p.field) for p in problems}
    assert found == {(2, "status"), (2, "placed"), (4, "(record)")}
    lost = next(p for p in problems if p.field == "status")
    assert "value LOST is not in the map" in lost.reason and "NEW, SHIPPED" in lost.reason
    # the agent row (kind = agent) matched no event: read, not an event, not a problem
    assert {r["source_row"] for r in rows} == {1}


CSV_DIALECT = """
[input]
file = "*.txt"
format = "csv"
delimiter = ";"
quote = "'"
encoding = "latin-1"
header = false
skip = 2

[[events]]
customer_id = "{column0}"
event_type = "survey_response"
ts = { column = "column1", format = "epoch" }
channel = "{column3}"
[events.attrs]
score = { column = "column2", type = "number", decimal = "," }
"""


def test_csv_dialect_and_a_directory_of_files(tmp_path: Path) -> None:
    data = tmp_path / "in"
    data.mkdir()
    body = "# export v2\n# generated\nJosé;1700000000;4,5;Web\n'A;B';1700000060;3;Phone\n"
    (data / "a.txt").write_bytes(body.encode("latin-1"))
    (data / "b.txt").write_bytes(b"#x\n#y\nZ\xe9;1700000120;nope;web\n")
    (data / "ignored.csv").write_text("x\n1\n")
    rows, problems, _ = stage(mapping(tmp_path, CSV_DIALECT), data)
    assert [r["customer_id"] for r in rows] == ["José", "A;B"]
    assert rows[0]["attrs"] == {"score": 4.5} and rows[1]["channel"] == "phone"
    assert str(rows[0]["ts"]) == "2023-11-14 22:13:20"
    assert [(Path(p.file).name, p.field) for p in problems if p.field == "column2"] == [
        ("b.txt", "column2")
    ]


DIALECT_EVENTS = """
[[events]]
customer_id = "{who}"
event_type = "review"
ts = "{at}"
[events.attrs]
text = "{text}"
"""


def test_an_unterminated_quote_in_a_semicolon_file_quarantines_one_row(tmp_path: Path) -> None:
    # the ragged quote defeated DuckDB's sniffer: the whole file was refused with its dump
    lines = [f"k{i};2024-01-0{i + 1};fine {i}" for i in range(6)]
    lines.insert(2, 'kx;2024-01-09;"never closed')
    (tmp_path / "eu.csv").write_text("who;at;text\n" + "\n".join(lines) + "\n")
    m = mapping(tmp_path, '[input]\ndelimiter = ";"\n' + DIALECT_EVENTS)
    rows, problems, read = stage(m, tmp_path / "eu.csv")
    assert read == 7
    assert [r["customer_id"] for r in rows] == [f"k{i}" for i in range(6)]
    assert [r["source_row"] for r in rows] == [1, 2, 4, 5, 6, 7]
    [p] = problems
    assert (p.row, p.field) == (3, "text") and "unterminated quote" in p.reason
    # a title line skipped, CRLF line ends: the same rows and numbers
    body = "# export\r\nwho;at;text\r\n" + "\r\n".join(lines) + "\r\n"
    (tmp_path / "eu.csv").write_text(body, newline="")
    m = mapping(tmp_path, '[input]\ndelimiter = ";"\nskip = 1\n' + DIALECT_EVENTS)
    rows, problems, read = stage(m, tmp_path / "eu.csv")
    assert read == 7 and [r["source_row"] for r in rows] == [1, 2, 4, 5, 6, 7]
    assert [(p.row, p.record) for p in problems] == [(3, json.dumps({"line": lines[2]}))]


def test_quote_off_and_cp1252_text(tmp_path: Path) -> None:
    (tmp_path / "s.tsv").write_text('who\tat\ttext\nk1\t2024-01-01\tsays "hi\nk2\t2024-01-02\tok\n')
    m = mapping(tmp_path, '[input]\ndelimiter = "\\t"\nquote = ""\nescape = ""\n' + DIALECT_EVENTS)
    rows, problems, read = stage(m, tmp_path / "s.tsv")
    assert (read, problems) == (2, [])
    assert [r["attrs"]["text"] for r in rows] == ['says "hi', "ok"]  # type: ignore[index]
    text = 'who,at,text\nk1,2024-01-01,"12,50 € — merci"\nk2,2024-01-02,“ok”\n'
    (tmp_path / "w.csv").write_bytes(text.encode("cp1252"))
    m = mapping(tmp_path, '[input]\nencoding = "cp1252"\n' + DIALECT_EVENTS)
    rows, problems, read = stage(m, tmp_path / "w.csv")
    assert (read, problems) == (2, [])
    assert [r["attrs"]["text"] for r in rows] == ["12,50 € — merci", "“ok”"]  # type: ignore[index]
    (tmp_path / "w.csv").write_bytes(b"who,at,text\nk1,2024-01-01,ok\nk2,2024-01-02,x\x81y\n")
    with pytest.raises(InputError, match=r"w\.csv: line 3: byte 0x81 is not cp1252 text") as err:
        stage(m, tmp_path / "w.csv")
    assert "\n" not in str(err.value) and "SELECT" not in str(err.value)


def test_lookups_join_files_of_a_directory_and_quarantine_orphans(tmp_path: Path) -> None:
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "orders.csv").write_text(
        "order_id,cust,at\nO1,k1,2024-01-01T10:00:00Z\nO2,k9,2024-01-02T10:00:00Z\n"
    )
    (tmp_path / "d" / "customers.csv").write_text("key,person\nk1,P-1\nk1,P-dup\n")
    m = mapping(
        tmp_path,
        """
        [inputs.orders]
        file = "orders.csv"
        [inputs.customers]
        file = "customers.csv"
        [lookup.customer]
        input = "customers"
        key = "key"
        match = "cust"
        required = true
        [[events]]
        input = "orders"
        event_id = "{order_id}:placed"
        customer_id = "{customer.person}"
        event_type = "order_placed"
        ts = "{at}"
        """,
    )
    rows, problems, read = stage(m, tmp_path / "d")
    assert [(r["event_id"], r["customer_id"]) for r in rows] == [("O1:placed", "P-1")]
    assert read == 4
    (p,) = [p for p in problems if p.field == "cust"]
    assert p.row == 2 and "no row with key = k9 in" in p.reason and "customers.csv" in p.reason
    with pytest.raises(MappingError_, match="reads several files"):
        m.inputs(tmp_path / "d" / "orders.csv")


MappingError_ = InputError  # MappingError is an InputError


def ev(*lines: str) -> str:
    """An [[events]] table: the required fields, but those ``lines`` set."""
    given = {line.split("=")[0].strip() for line in lines}
    required = {"customer_id": '"{c}"', "event_type": '"review"', "ts": '"{t}"'}
    defaults = [f"{k} = {v}" for k, v in required.items() if k not in given]
    return "\n".join(["[[events]]", *defaults, *lines]) + "\n"


ERRORS = [
    ("events = [", "", "not valid TOML"),
    ('nme = "x"\n' + ev(), "nme", "unknown key"),
    ("[input]\n", "events", "missing"),
    ('[[events]]\ncustomer_id = "a"\nevent_type = "review"', "events[0].ts", "missing"),
    ('[input]\nformat = "xml"\n' + ev(), "input.format", "'xml' is not one of"),
    ('[input]\ndelimiter = ";;"\n' + ev(), "input.delimiter", "one character"),
    ('[input]\nencoding = "ebcdic"\n' + ev(), "input.encoding", "is not one of"),
    ("[input]\nskip = -1\n" + ev(), "input.skip", "whole number"),
    ('[input]\nheader = "yes"\n' + ev(), "input.header", "true or false"),
    (ev("ts = { column = 't', zone = 'Mars/Base' }"), "events[0].ts.zone", "time zone"),
    (ev("ts = { column = 't', format = 'dd/mm' }"), "events[0].ts.format", "strftime"),
    (ev("ref = { column = 't', format = '%d' }"), "events[0].ref.format", "only for"),
    (ev("ts = { column = 't', type = 'date' }"), "events[0].ts.type", "not one of"),
    (ev("ts = { column = 't', value = 'x' }"), "events[0].ts", "exactly one of"),
    (ev("ts = { }"), "events[0].ts", "exactly one of"),
    (ev("ts = { column = 't', map = 'x' }"), "events[0].ts.map", "expected a table"),
    (ev("ts = '{t'"), "events[0].ts", "unbalanced brace"),
    (ev("ts = 'a{}b'"), "events[0].ts", "empty placeholder"),
    (ev("ts = { column = 't', pattern = '(' }"), "events[0].ts.pattern", "regular"),
    (ev("ts = { column = 't', pattern = '(a)(b)' }"), "events[0].ts.pattern", "at most one"),
    (ev("ts = { column = 't', decimal = ';' }"), "events[0].ts.decimal", "'.' or ','"),
    (ev("amount = { column = 't', thousands = '_' }"), "events[0].amount.thousands", "'none'"),
    (
        ev("amount = { column = 'a', decimal = ',', thousands = ',' }"),
        "events[0].amount.thousands",
        "decimal mark too",
    ),
    (ev("ts = { column = 't', not_before = '1990' }"), "events[0].ts.not_before", "a date such as"),
    (ev("ref = { column = 't', not_before = 1990-01-01 }"), "events[0].ref.not_before", "only for"),
    (ev("ts = { first_of = [] }"), "events[0].ts.first_of", "non-empty list"),
    (ev("when = { column = 'k' }"), "events[0].when", "exactly one of"),
    (ev("when = { equals = 'k' }"), "events[0].when.column", "missing"),
    (ev("when = { column = 'k', in = [] }"), "events[0].when.in", "non-empty"),
    (ev("input = 'other'"), "events[0].input", "no input named 'other'"),
    (ev("as = 'input'"), "events[0].as", "already an input"),
    (ev("foo = 1"), "events[0].foo", "unknown key"),
    (ev("attrs = 3"), "events[0].attrs", "expected a table"),
    ("[lookup.x]\ninput = 'input'\nkey = 'k'\n" + ev(), "lookup.x.match", "missing"),
    ("[lookup.x]\ninput = 'zz'\nkey = 'k'\nmatch = 'm'\n" + ev(), "lookup.x.input", "no input"),
    ("[input]\n[inputs.a]\n" + ev(), "inputs", "not both"),
    ("events = 3", "events", "at least one"),
    ("events = [3]", "events[0]", "expected a table, got int"),
]


@pytest.mark.parametrize(("text", "key", "problem"), ERRORS)
def test_a_mistake_names_file_key_and_problem(
    tmp_path: Path, text: str, key: str, problem: str
) -> None:
    f = tmp_path / "bad.toml"
    f.write_text(text)
    with pytest.raises(MappingFileError) as info:
        FileMapping.from_file(f)
    assert info.value.file == str(f)
    assert info.value.key == key, str(info.value)
    assert problem in info.value.problem, str(info.value)


def test_mistakes_found_against_the_data_name_the_mapping_and_the_data(tmp_path: Path) -> None:
    data = tmp_path / "x.csv"
    data.write_text("a,b\n1,2\n")
    m = mapping(tmp_path, '[[events]]\ncustomer_id = "{a}"\nevent_type = "review"\nts = "{tt}"')
    with pytest.raises(
        MappingFileError, match=r"m.toml: events\[0\].ts: no column 'tt' in .*x.csv"
    ):
        stage(m, data)
    p = mapping(
        tmp_path,
        '[params]\nday = ""\n[[events]]\ncustomer_id = "{a}"\nevent_type = "review"\n'
        'ts = "{params.day}"',
    )
    with pytest.raises(MappingFileError, match=r"params\.day: has no value"):
        stage(p, data)
    with pytest.raises(MappingFileError, match="no parameter 'dya'"):
        p.with_params({"dya": "2024-01-01"})
    rows, _, _ = stage(p.with_params({"day": "2024-01-01"}), data)
    assert str(rows[0]["ts"]) == "2024-01-01 00:00:00"


def test_refused_departments_name_the_configured_list(tmp_path: Path) -> None:
    data = tmp_path / "x.csv"
    data.write_text("who,dept,ch\nu1,Sales,web\nu2,R&D,fax\n")
    m = mapping(
        tmp_path,
        '[[events]]\ncustomer_id = "{who}"\nevent_type = "employee_feedback"\n'
        'ts = "2024-01-01"\ndepartment = "{dept}"\nchannel = "{ch}"',
    )
    refuse = Vocabulary(("sales", "support"), "refuse", ("web",), "refuse")
    rows, problems, _ = stage(m, data, refuse)
    assert [r["customer_id"] for r in rows] == ["u1"]
    reasons = {p.field: p.reason for p in problems}
    assert reasons["dept"].startswith("unknown department r&d (configured departments: sales")
    assert reasons["ch"].startswith("unknown channel fax (configured channels: web")
    rows, problems, _ = stage(m, data, Vocabulary(("sales",)))
    assert problems == [] and rows[1]["department"] == "r&d"


def test_ibm_care_loads_every_conversation_and_message() -> None:
    from tests.conftest import shared_dataset

    path = shared_dataset("support_conversations") / "ibm_twitter_customer_care" / "dev.json"
    doc = json.loads(path.read_text(encoding="utf-8"))
    messages = [m for c in doc for m in c["dialogContent"]]
    from_brand = sum("agent" in m for m in messages)
    rows, problems, read = stage("ibm-care", path)
    assert problems == [] and read == len(doc) == 525
    counts = {t: sum(r["event_type"] == t for r in rows) for t in ("contact_inbound", "reply_sent")}
    # every message, plus each conversation's closing reply (agentURL)
    assert counts == {
        "contact_inbound": len(messages) - from_brand,
        "reply_sent": from_brand + len(doc),
    }
    assert len({r["ref"] for r in rows}) == len(doc)
    assert len({r["event_id"] for r in rows}) == len(rows)
    first = doc[0]
    mine = [r for r in rows if r["ref"] == first["dialogHeader"]["sessionID"]]
    assert {r["customer_id"] for r in mine} == {first["dialogContent"][0]["client"]}
    closing = next(r for r in mine if r["attrs"]["tweet_id"] == first["agentURL"]["tweet_ID"])
    assert closing["attrs"]["url"] == first["agentURL"]["url"]
    # from the snowflake id: the header's start plus its duration (17:31:32 + 01:26:55)
    assert str(closing["ts"]).startswith("2020-04-01 18:58:27")


HR_ITEMS = [
    "EnvironmentSatisfaction",
    "JobSatisfaction",
    "RelationshipSatisfaction",
    "WorkLifeBalance",
    "JobInvolvement",
]


def test_hr_survey_loads_all_1470_employees_through_the_cli(tmp_path: Path) -> None:
    from tests.conftest import shared_dataset

    csv_file = shared_dataset("ibm_hr_attrition") / "WA_Fn-UseC_-HR-Employee-Attrition.csv"
    home = tmp_path / "store"
    args = ("ingest", str(csv_file), "--source", "hr-survey", "--format", "json")
    missing = run(home, *args, check=False)
    assert missing.returncode == 1 and "--param survey_date=" in missing.stderr
    assert "Traceback" not in missing.stderr
    report = json.loads(run_here(home, *args, "--param", "survey_date=2024-06-30").stdout)
    assert report["rows_read"] == 1470 and report["rows_quarantined"] == 0
    assert report["events_new"] == 1470 * 5
    with cxloop.open(home) as cx:
        again = cx.ingest(csv_file, "hr-survey", force=True, params={"survey_date": "2024-06-30"})
        assert again.events_new == 0 and again.events_duplicate == 1470 * 5  # idempotent
        depts = cx.events().department.value_counts().to_pandas()
    assert set(depts["department"]) == {"sales", "research & development", "human resources"}
    assert int(depts.set_index("department")["department_count"].sum()) == 1470 * 5
    # read on its own 1-4 scale (built-in likert4), and the brief says what employees say
    brief = json.loads(run_here(home, "brief", "--format", "json").stdout)
    (score,) = brief["employees"]["scores"]
    assert (score["metric"], score["n"]) == ("likert4", 1470 * 5)
    answers = pd.read_csv(csv_file)[HR_ITEMS].to_numpy().ravel()
    assert score["value"] == pytest.approx(100 * (answers >= 3).mean())


def test_cli_mapping_file_check_and_ingest(tmp_path: Path) -> None:
    f = tmp_path / "twcs.csv"
    f.write_text("\n".join(TWCS) + "\n", encoding="utf-8")
    own = tmp_path / "mine.toml"
    own.write_text(run(tmp_path, "mappings", "show", "twcs").stdout)
    checked = run(tmp_path, "mappings", "check", str(own), "--sample", str(f))
    assert "8 events" in checked.stdout and "3 row(s) would be quarantined" in checked.stdout
    home = tmp_path / "store"
    loaded = json.loads(
        run_here(home, "ingest", str(f), "--mapping", str(own), "-f", "json").stdout
    )
    assert loaded["source"] == "twcs" and loaded["events_new"] == 8
    assert loaded["rows_quarantined"] == 3
    bad = tmp_path / "bad.toml"
    bad.write_text('[[events]]\ncustomer_id = "x"\nevent_type = "review"\nts = { colum = "t" }\n')
    proc = run_here(home, "mappings", "check", str(bad), check=False)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert f"{bad}: events[0].ts.colum: unknown key" in proc.stderr.replace("\n", "")


def flat(text: str) -> str:
    """Console output with its line wrapping undone."""
    return " ".join(text.split())


NO_ID = """[[events]]
{id}customer_id = "anon"
event_type = "contact_inbound"
ts = {{ column = "when" }}
ref = "{{intent}}"
[events.attrs]
text = "{{text}}"
"""


def test_check_predicts_what_ingest_does(tmp_path: Path) -> None:
    """``mappings check --sample`` runs the checks ingest runs: ids repeated in the file
    with other content (a derived id merging distinct rows) and the configured scales."""
    rows = ["when,intent,text"] + [f"2025-01-15,refund,ask {i}" for i in range(1, 1201)]
    f = tmp_path / "utterances.csv"
    f.write_text("\n".join(rows) + "\n")
    merged = tmp_path / "merged.toml"
    merged.write_text(NO_ID.format(id=""))
    by_row = tmp_path / "by_row.toml"
    by_row.write_text(NO_ID.format(id='event_id = "u:{_row}"\n'))
    checked = flat(run_here(tmp_path, "mappings", "check", str(merged), "--sample", str(f)).stdout)
    assert "1,200 rows read, 1 events" in checked
    assert "1,199 row(s) would be quarantined" in checked
    home = tmp_path / "store"
    loaded = json.loads(
        run_here(home, "ingest", str(f), "--mapping", str(merged), "-f", "json").stdout
    )
    assert (loaded["events_new"], loaded["rows_quarantined"]) == (1, 1199)
    second = loaded["problems"][0]
    assert (second["row"], second["field"]) == (2, "event_id")
    assert second["reason"].endswith(
        "appears more than once in this file with different content: attrs (first at row 1)"
    )
    # the row number in the id: every row its own event, in check and in ingest alike
    checked = flat(run_here(tmp_path, "mappings", "check", str(by_row), "--sample", str(f)).stdout)
    assert "1,200 events (contact_inbound 1,200), 0 row(s) would be quarantined" in checked
    loaded = json.loads(
        run_here(home, "ingest", str(f), "--mapping", str(by_row), "-f", "json").stdout
    )
    assert (loaded["events_new"], loaded["rows_quarantined"]) == (1200, 0)
    with cxloop.open(home) as cx:
        ids = set(cx.events().execute().event_id)
    assert {"u:1", "u:1200"} <= ids
    # a score outside its scale: predicted as ingest quarantines it
    survey = tmp_path / "survey.jsonl"
    answers = [
        {"r": "c1", "at": "2025-01-01T00:00:00Z", "nps": 9},
        {"r": "c2", "at": "2025-01-01T00:00:00Z", "nps": 11},
    ]
    survey.write_text("\n".join(json.dumps(a) for a in answers) + "\n")
    nps = tmp_path / "nps.toml"
    nps.write_text(
        '[input]\nformat = "jsonl"\n[[events]]\ncustomer_id = "{r}"\n'
        'event_type = "survey_response"\nts = { column = "at" }\n[events.attrs]\n'
        'metric = "nps"\nscore = { column = "nps", type = "integer" }\n'
    )
    checked = flat(
        run_here(tmp_path, "mappings", "check", str(nps), "--sample", str(survey)).stdout
    )
    assert "1 events" in checked and "1 row(s) would be quarantined" in checked
    assert "score 11 is outside the nps scale" in checked


def test_generic_reads_a_json_array_and_a_single_object(cx: cxloop.Cxloop, tmp_path: Path) -> None:
    event = {"customer_id": "c1", "event_type": "review", "ts": "2024-01-01T00:00:00Z"}
    many = tmp_path / "many.json"
    many.write_text(json.dumps([event, {**event, "customer_id": "c2", "score": 4}, 7]))
    one = tmp_path / "one.json"
    one.write_text(json.dumps({**event, "customer_id": "c3"}))
    report = cx.ingest(many)
    assert report.events_new == 2 and report.rows_quarantined == 1
    assert report.problems[0].row == 3 and report.problems[0].field == "(record)"
    assert cx.ingest(one).events_new == 1
    broken = tmp_path / "broken.json"
    broken.write_text('[{"a": 1},')
    with pytest.raises(CxloopError, match="invalid JSON at line 1"):
        cx.ingest(broken)


def test_mappings_list_names_every_builtin() -> None:
    from typer.testing import CliRunner

    from cxloop.cli.main import app

    result = CliRunner().invoke(app, ["mappings", "list", "-f", "json"])
    assert result.exit_code == 0, result.output
    names = {m["name"] for m in json.loads(result.output)}
    assert names >= {"generic", "olist", "twcs", "ibm-care", "hr-survey"}


AGGREGATES = """
[inputs.orders]
file = "orders.csv"
[inputs.items]
file = "items.csv"
[inputs.reviews]
file = "reviews.csv"

[lookup.items]
input = "items"
key = "order"
match = "id"
[lookup.items.aggregate]
n = { fn = "count" }
first_ship = { fn = "min", of = { column = "ship", type = "time" } }
skus = { fn = "list", of = { column = "sku", upper = true } }
[lookup.items.aggregate.total]
fn = "sum"
of = [{ column = "price", type = "number" }, { column = "fee", type = "number" }]

[lookup.order]
input = "orders"
key = "id"
match = "order"
required = true
loaded_only = true

[[events]]
input = "orders"
event_id = "o:{id}"
customer_id = "{who}"
event_type = "order_placed"
ts = { latest_of = ["placed", "approved"] }
amount = "{items.total}"
[[events.require]]
column = "status"
in = ["open", "done"]
when = { column = "who", present = true }
reason = "unknown status"
[events.attrs]
n = { column = "items.n", type = "integer" }
skus = { column = "items.skus", type = "json" }
first_ship = { column = "items.first_ship", type = "time" }
status = { column = "status", map = { open = "open", done = "done" } }

[[events]]
input = "reviews"
customer_id = "{order.who}"
event_type = "review"
ts = "{at}"
ref = "{order}"
"""


def test_aggregate_lookups_requirements_and_loaded_only(tmp_path: Path) -> None:
    d = tmp_path / "d"
    d.mkdir()
    (d / "orders.csv").write_text(
        "id,who,placed,approved,status\n"
        "1,ana,2024-01-01T10:00:00Z,2024-01-01T12:00:00Z,open\n"
        "2,bo,2024-01-02T10:00:00Z,,lost\n"
        "3,cy,2024-01-03T10:00:00Z,,done\n"
    )
    (d / "items.csv").write_text(
        "order,sku,price,fee,ship\n"
        "1,b,10.1,0.2,2024-01-05T00:00:00Z\n1,a,5,,2024-01-04T00:00:00Z\n"
        "1,a,1,1,2024-01-06T00:00:00Z\n3,x,ten,1,2024-01-05T00:00:00Z\n"
    )
    (d / "reviews.csv").write_text("order,at\n1,2024-01-09\n2,2024-01-09\n9,2024-01-09\n")
    rows, problems, read = stage(mapping(tmp_path, AGGREGATES), d)
    assert read == 10
    one = next(r for r in rows if r["event_id"] == "o:1")
    assert str(one["ts"]) == "2024-01-01 12:00:00"  # the latest of placed and approved
    assert one["amount"] == pytest.approx(17.3)
    assert one["attrs"] == {
        "n": 3,
        "skus": ["A", "B"],
        "first_ship": "2024-01-04T00:00:00",
        "status": "open",
    }
    three = next(r for r in rows if r["event_id"] == "o:3")
    assert three["attrs"]["n"] is None and three["amount"] is None  # its only item is bad
    found = {(Path(p.file).name, p.row, p.field): p.reason for p in problems}
    assert "not a valid number: ten" in found[("items.csv", 4, "price")]
    status = [p.reason for p in problems if p.field == "status"]
    assert sorted(r.split(" ")[0] for r in status) == ["unknown", "value"]  # require, map
    # order 2 was quarantined: its review does not match (loaded_only); order 9 never existed
    assert "no row with id = 2" in found[("reviews.csv", 2, "order")]
    assert "no row with id = 9" in found[("reviews.csv", 3, "order")]
    assert [r["ref"] for r in rows if r["event_type"] == "review"] == ["1"]


def test_the_first_mapping_in_the_docs_works_as_written(tmp_path: Path) -> None:
    import re

    from tests.conftest import REPO

    doc = (REPO / "docs" / "mappings.md").read_text()
    data = re.search(r"```csv\n(Ticket;.*?)```", doc, re.S)
    toml = re.search(r"```toml\n(name = \"helpdesk\".*?)```", doc, re.S)
    assert data and toml
    f = tmp_path / "tickets.csv"
    f.write_text(data.group(1))
    rows, problems, read = stage(mapping(tmp_path, toml.group(1), "tickets.toml"), f)
    assert problems == [] and read == 2
    ana = next(r for r in rows if r["customer_id"] == "ana@example.org")
    assert str(ana["ts"]) == "2025-02-03 08:15:00"  # 09:15 in Paris, in UTC
    assert ana["department"] == "billing" and ana["attrs"] == {
        "text": "Invoice twice",
        "status": "open",
    }
    assert next(r for r in rows if r["ref"] == "T-102")["department"] == "tech support"


def test_department_and_channel_settings_reach_every_mapping(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from cxloop.errors import ConfigError
    from cxloop.settings import Settings

    f = tmp_path / "e.csv"
    f.write_text(
        "customer_id,event_type,ts,department,channel\n"
        "c1,review,2024-01-01,Research & Development,web\n"
        "c2,review,2024-01-01,Sales,Fax\n"
    )
    with cxloop.open(tmp_path / "accept") as cx:  # the default: any value, normalised
        assert cx.ingest(f).rows_quarantined == 0
        depts = set(cx.events().department.execute())
    assert depts == {"research & development", "sales"}
    monkeypatch.setenv("CXLOOP_UNKNOWN_DEPARTMENTS", "refuse")
    monkeypatch.setenv("CXLOOP_CHANNELS", "web, Email")
    monkeypatch.setenv("CXLOOP_UNKNOWN_CHANNELS", "refuse")
    with cxloop.open(tmp_path / "refuse") as cx:
        report = cx.ingest(f)
    reasons = {(p.row, p.field): p.reason for p in report.problems}
    assert reasons[(1, "department")].startswith(
        "unknown department research & development (configured departments: sales, "
    )
    assert reasons[(2, "channel")].startswith(
        "unknown channel fax (configured channels: web, email"
    )
    monkeypatch.setenv("CXLOOP_UNKNOWN_CHANNELS", "maybe")
    with pytest.raises(ConfigError, match=r"unknown_channels .* accept or refuse"):
        Settings.from_env()
