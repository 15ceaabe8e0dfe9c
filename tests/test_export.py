"""Exports of the log (JSONL, CSV, Markdown, HTML), read back with the tools a user would open them with."""

from __future__ import annotations

import csv
import io
import json
import multiprocessing
import os
import re
import sqlite3
from html.parser import HTMLParser
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from markdown_it import MarkdownIt

import unfenced_answers as unfenced
from servers import assert_one_line
from workbench import export
from workbench.cli import main
from workbench.core import Comparison
from workbench.core import Request, Token
from workbench.engines.replay import ReplayEngine
from workbench.export import html as html_export
from workbench.export import markdown as markdown_export
from workbench.export import parallel
from workbench.store import Store, open_db

ALPHA = 'Here you go:\n\n```python\ndef greet(name):\n    return f"hello {name}"\n```\n\nCall `greet`.\n'
BETA = ("Careful: <script>alert('pwned')</script> and <img src=x onerror=alert(1)>\n\n"
        "````markdown\nA fence inside:\n```js\nconsole.log(1)\n```\n````\n\n"
        "[docs](https://example.com/docs) ![pixel](https://tracker.example/p.png)\n")
GAMMA = "Start:\n\n```python\nfor i in range(3):\n    print(i)\n"  # cut off inside its fence
PROMPT_1 = "Write *hello* in Python | quickly"
PROMPT_2 = "Loop three times"
PROMPT_3 = "Second session: say hi"


class Broken:
    """An engine that fails mid-answer (a replay cannot fail, and a failed answer must export too)."""

    name = "broken"

    def where(self) -> str:
        return "nowhere"

    def stream(self, request, cancel):
        yield Token("Half an ans")
        raise RuntimeError("boom")

    def close(self) -> None:
        pass


def _ask(recorder, prompt: str, engines) -> tuple[int, list[int]]:
    comparison = Comparison(engines, Request(prompt, max_tokens=64, temperature=0.0), subscribers=[recorder.on_event])
    prompt_id = recorder.record(comparison).result(10)
    comparison.start()
    assert comparison.wait(10)
    return prompt_id, [recorder.response_id(a).result(10) for a in comparison.answers]


def build_log(path: Path) -> dict:
    """Two sessions, three prompts, six answers (one cut off in a fence, one failed), votes (one retracted)."""
    store = Store(path)
    try:
        rec = store.start_session("run", "export test")
        p1, (a, b) = _ask(rec, PROMPT_1, [ReplayEngine("alpha", ALPHA), ReplayEngine("beta", BETA)])
        rec.vote(p1, "winner", [a, b], winner=a, scores={a: 5, b: 2}, note="alpha was right").result(10)
        p2, (c, d) = _ask(rec, PROMPT_2, [ReplayEngine("gamma", GAMMA), Broken()])
        rec.vote(p2, "tie", [c, d]).result(10)
        rec.vote(p2, "both_bad", [c, d]).result(10)  # replaces the tie, which stays in the log as retracted
        rec2 = rec.store.start_session("app")
        p3, (e, f) = _ask(rec2, PROMPT_3, [ReplayEngine("alpha", "Hi."), ReplayEngine("beta", "Hello!")])
        sessions = (rec.session_id, rec2.session_id)
    finally:
        store.close()
    return {"prompts": (p1, p2, p3), "answers": (a, b, c, d, e, f), "sessions": sessions}


@pytest.fixture
def log(tmp_path: Path) -> tuple[Path, dict]:
    path = tmp_path / "log.db"
    return path, build_log(path)


def exported(path: Path, fmt: str, session_id: int | None = None) -> str:
    db = open_db(path)
    out = io.StringIO(newline="")
    try:
        export.write(fmt, db, out, session_id)
    finally:
        db.conn.close()
    return out.getvalue()


# -- JSONL ---------------------------------------------------------------------------------------

def test_jsonl_one_object_per_answer_with_prompt_fingerprint_figures_and_votes(log) -> None:
    path, ids = log
    records = [json.loads(line) for line in exported(path, "jsonl").splitlines()]
    assert [r["id"] for r in records] == list(ids["answers"])
    alpha, beta, gamma, broken = records[:4]
    assert alpha["prompt"]["text"] == PROMPT_1
    assert alpha["prompt"]["params"]["max_tokens"] == 64
    assert alpha["session"]["name"] == "export test"
    assert alpha["text"] == ALPHA and beta["text"] == BETA and gamma["text"] == GAMMA
    assert alpha["model"]["engine"] == "replay" and alpha["model"]["name"] == "alpha" and alpha["model"]["id"]
    assert alpha["status"] == "complete" and alpha["ttft_ms"] is not None and alpha["completion_tokens"] > 0
    assert broken["status"] == "failed" and broken["error"] == "RuntimeError: boom"
    (vote,) = alpha["votes"]
    assert vote["outcome"] == "winner" and vote["won"] is True and vote["note"] == "alpha was right"
    assert vote["scores"] == {str(alpha["id"]): 5, str(beta["id"]): 2}
    assert beta["votes"][0]["won"] is False
    assert alpha["vote_tally"] == {"votes": 1, "wins": 1, "losses": 0, "ties": 0, "both_bad": 0, "mean_score": 5}
    assert [v["outcome"] for v in gamma["votes"]] == ["both_bad"]
    assert [v["outcome"] for v in gamma["retracted_votes"]] == ["tie"]
    assert gamma["vote_tally"]["both_bad"] == 1 and gamma["vote_tally"]["ties"] == 0


def test_jsonl_session_filter(log) -> None:
    path, ids = log
    records = [json.loads(line) for line in exported(path, "jsonl", ids["sessions"][1]).splitlines()]
    assert [r["prompt"]["text"] for r in records] == [PROMPT_3, PROMPT_3]


# -- CSV -----------------------------------------------------------------------------------------

def test_csv_header_and_one_flat_row_per_answer(log, tmp_path: Path) -> None:
    path, ids = log
    text = exported(path, "csv")
    assert text.endswith("\r\n") and "\r\n" in text.split("\n", 1)[0] + "\n"  # RFC 4180 line ends
    target = tmp_path / "out.csv"
    target.write_text(text, encoding="utf-8", newline="")
    with target.open(encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh)
        header = reader.fieldnames
        rows = list(reader)
    assert len(header) == len(set(header)), "duplicate column names"
    assert [int(r["id"]) for r in rows] == list(ids["answers"])
    alpha, beta, gamma, broken = rows[:4]
    assert alpha["text"] == ALPHA and gamma["text"] == GAMMA  # multi-line text round-trips exactly
    assert alpha["prompt_text"] == PROMPT_1 and alpha["model_name"] == "alpha"
    assert alpha["model_engine"] == "replay" and alpha["model_id"]
    assert alpha["max_tokens"] == "64" and alpha["status"] == "complete" and float(alpha["ttft_ms"]) >= 0
    assert (alpha["votes"], alpha["wins"], alpha["losses"], alpha["mean_score"]) == ("1", "1", "0", "5")
    assert (beta["votes"], beta["wins"], beta["losses"], beta["mean_score"]) == ("1", "0", "1", "2")
    assert (gamma["votes"], gamma["ties"], gamma["both_bad"]) == ("1", "0", "1")  # the retracted tie is gone
    assert broken["status"] == "failed" and broken["error"] == "RuntimeError: boom"
    assert rows[4]["votes"] == "0"


# -- Markdown ------------------------------------------------------------------------------------

def _blocks(text: str) -> list:
    return MarkdownIt("commonmark").enable("table").parse(text)


def _words(token) -> str:
    """What an inline token shows (escapes resolved)."""
    return "".join(c.content for c in token.children or [] if c.type in ("text", "code_inline"))


def test_markdown_headings_prompt_table_votes_and_intact_fences(log) -> None:
    path, _ids = log
    text = exported(path, "markdown")
    tokens = _blocks(text)
    headings = [(tokens[i].tag, _words(tokens[i + 1])) for i, t in enumerate(tokens) if t.type == "heading_open"]
    assert headings == [
        ("h1", "Workbench log"),
        ("h2", "Session 1 “export test”"),
        ("h3", f"Prompt 1: {PROMPT_1}"),
        ("h4", "A · alpha"), ("h4", "B · beta"),
        ("h3", f"Prompt 2: {PROMPT_2}"),
        ("h4", "A · gamma"), ("h4", "B · broken"),  # not swallowed by gamma's unclosed fence
        ("h2", "Session 2"),
        ("h3", "Prompt 3: Second session: say hi"),
        ("h4", "A · alpha"), ("h4", "B · beta"),
    ]
    fences = [(t.info, t.content) for t in tokens if t.type == "fence"]
    assert ("python", 'def greet(name):\n    return f"hello {name}"\n') in fences
    assert ("markdown", "A fence inside:\n```js\nconsole.log(1)\n```\n") in fences  # the inner fence kept
    assert ("python", "for i in range(3):\n    print(i)\n") in fences  # closed for it
    assert ("text", PROMPT_1 + "\n") in fences  # the prompt, verbatim
    tables = [i for i, t in enumerate(tokens) if t.type == "table_open"]
    assert len(tables) == 6  # per prompt, its figures and then its parameter parity
    cells = [_words(t) for t in tokens[tables[0]:] if t.type == "inline"][:16]
    assert cells[:8] == ["Answer", "Model", "Status", "TTFT", "tok/s", "Tokens", "Duration", "Tests"]
    assert cells[8:11] == ["A", "alpha", "complete"]
    assert "A · alpha won; scores A · alpha 5, B · beta 2" in text
    assert "“alpha was right”" in text
    assert "both bad" in text and "tie" not in text.split("Prompt 2")[1].split("Session 2")[0]
    assert "RuntimeError: boom" in text


@pytest.mark.parametrize("answer", [
    "```python\nprint(1)\n",  # a fence cut off
    "~~~~\ncode\n~~~",  # a longer tilde fence closed too short
    "Text\n\n<!-- a comment never closed\n\nmore",  # an HTML block that runs past blank lines
    "<pre>\nraw, never closed\n\nstill raw",
    "- a list\n  ```\n  fence inside the item",
    "> quoted\n> ```\n> open in a quote",
    "````\n```\ninner only\n",
])
def test_markdown_answer_cannot_swallow_what_follows(answer: str) -> None:
    contained = markdown_export.contained(answer)
    tokens = _blocks(contained + "\n#### Next heading\n\nparagraph after\n")
    assert [t.type for t in tokens[-6:]] == ["heading_open", "inline", "heading_close",
                                              "paragraph_open", "inline", "paragraph_close"]
    assert tokens[-2].content == "paragraph after" and tokens[-2].level == 1


# -- HTML ----------------------------------------------------------------------------------------

class Node:
    """An element of the parsed report."""

    def __init__(self, tag: str, attrs: dict, parent: "Node | None") -> None:
        self.tag, self.attrs, self.parent = tag, attrs, parent
        self.children: list[Node] = []
        self.content: list = []  # text and child nodes, in document order

    @property
    def classes(self) -> set[str]:
        return set((self.attrs.get("class") or "").split())

    def walk(self):
        yield self
        for child in self.children:
            yield from child.walk()

    def find(self, tag: str, cls: str | None = None) -> list["Node"]:
        return [n for n in self.walk() if n.tag == tag and (cls is None or cls in n.classes)]

    def all_text(self) -> str:
        return "".join(c if isinstance(c, str) else c.all_text() for c in self.content)


class Tree(HTMLParser):
    """Python's own HTML parser, building a small tree."""

    VOID = {"meta", "br", "hr", "img", "input", "link", "col", "wbr", "source"}

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.root = self.node = Node("#root", {}, None)
        self.feed(text)
        self.close()

    def handle_starttag(self, tag, attrs):
        node = Node(tag, dict(attrs), self.node)
        self.node.children.append(node)
        self.node.content.append(node)
        if tag not in self.VOID:
            self.node = node

    def handle_endtag(self, tag):
        node = self.node
        while node is not None and node.tag != tag:
            node = node.parent
        assert node is not None, f"</{tag}> closes nothing"
        self.node = node.parent

    def handle_data(self, data):
        self.node.content.append(data)


def test_html_is_self_contained_and_escapes_model_markup(log) -> None:
    path, _ids = log
    text = exported(path, "html")
    tree = Tree(text).root
    tags = {n.tag for n in tree.walk()}
    assert not tags & {"script", "link", "img", "iframe", "object", "embed", "base"}, tags
    for node in tree.walk():
        for name in ("src", "href", "action", "srcset", "poster"):
            value = node.attrs.get(name)
            if value is not None:
                assert name == "href" and value.startswith("#"), (node.tag, name, value)  # in-page links only
    assert len(tree.find("style")) == 1
    assert "url(" not in tree.find("style")[0].all_text() and "@import" not in text
    assert not re.search(r"\s(src|href)\s*=\s*[\"']?\s*(https?:)?//", text)
    # The model's own markup is shown, never run.
    assert "<script>alert" not in text and "<img src=x" not in text
    assert "&lt;script&gt;alert('pwned')&lt;/script&gt;" in text
    beta = next(a for a in tree.find("article", "answer") if "beta" in a.all_text() and "pwned" in a.all_text())
    assert "<script>alert('pwned')</script>" in beta.all_text()  # as text, once parsed
    assert "(https://example.com/docs)" in beta.all_text()  # a link's address is shown, not followed
    assert "[image: pixel]" in beta.all_text()
    csp = [m for m in tree.find("meta") if m.attrs.get("http-equiv") == "Content-Security-Policy"]
    assert csp and "default-src 'none'" in csp[0].attrs["content"]


def test_html_side_by_side_answers_highlighted_code_votes_and_model_summary(log) -> None:
    path, ids = log
    text = exported(path, "html")
    tree = Tree(text).root
    style = tree.find("style")[0].all_text()
    assert re.search(r"\.answers\{display:grid;grid-auto-flow:column", style)
    assert ".highlight .k " in style and ".highlight .nf " in style  # one Pygments style, inlined once
    prompts = tree.find("details", "prompt")
    assert [d.attrs["id"] for d in prompts] == [f"p{p}" for p in ids["prompts"]]
    first = prompts[0]
    (grid,) = first.find("div", "answers")
    columns = [c for c in grid.children if c.tag == "article"]
    assert [c.find("span", "model")[0].all_text() for c in columns] == ["alpha", "beta"]
    assert "won" in columns[0].classes and "won" not in columns[1].classes
    assert "TTFT" in columns[0].find("div", "figs")[0].all_text()
    (code,) = columns[0].find("pre", "highlight")
    assert code.attrs["data-lang"] == "python"
    spans = {(s.attrs.get("class"), s.all_text()) for s in code.find("span")}
    assert ("k", "def") in spans and ("nf", "greet") in spans
    assert 'def greet(name):\n    return f"hello {name}"' in code.all_text()
    (votes,) = first.find("ol", "votes")
    assert "A · alpha won" in votes.all_text() and "alpha was right" in votes.all_text()
    second = prompts[1]
    assert "both bad" in second.find("ol", "votes")[0].all_text()
    assert "tie" not in second.find("ol", "votes")[0].all_text()  # retracted
    failed = [a for a in second.find("article") if "failed" in a.classes]
    assert len(failed) == 1 and "RuntimeError: boom" in failed[0].find("div", "error")[0].all_text()
    # The summary per model: answers, failures, medians, wins.
    rows = [[td.all_text() for td in tr.find("td")] for tr in tree.find("section")[0].find("tr")[1:]]
    by_model = {r[0]: r for r in rows}
    assert set(by_model) == {"alpha", "beta", "gamma", "broken"}
    assert by_model["alpha"][2:4] == ["2", "0"] and by_model["alpha"][6] == "1 / 1"
    assert by_model["broken"][2:4] == ["1", "1"] and by_model["broken"][4] == "–"
    contents = [a.attrs["href"] for a in tree.find("nav")[0].find("a")]
    assert [f"#p{p}" for p in ids["prompts"]] == [h for h in contents if h.startswith("#p")]


def test_html_collapses_prompts_when_there_are_many(log, monkeypatch: pytest.MonkeyPatch) -> None:
    path, _ids = log
    assert all("open" in d.attrs for d in Tree(exported(path, "html")).root.find("details", "prompt"))
    monkeypatch.setattr(html_export, "OPEN_UP_TO", 2)
    prompts = Tree(exported(path, "html")).root.find("details", "prompt")
    assert prompts and not any("open" in d.attrs for d in prompts)


def _stamp_free(text: str) -> str:
    return re.sub(r"Exported \d{4}-\d\d-\d\d \d\d:\d\d UTC", "Exported", text)


def test_html_rendered_by_worker_processes_is_the_same(log, monkeypatch: pytest.MonkeyPatch) -> None:
    path, _ids = log
    serial = exported(path, "html")
    monkeypatch.setattr(html_export, "PARALLEL_FROM", 0)
    monkeypatch.setattr(html_export, "BATCH", 1)
    monkeypatch.setattr(parallel, "cores", lambda: 2)
    assert _stamp_free(exported(path, "html")) == _stamp_free(serial)


def _dies_in_a_worker(items: list) -> list:
    if multiprocessing.parent_process() is not None:
        os._exit(3)
    return [i * 2 for i in items]


def test_ordered_map_finishes_in_this_process_when_workers_die() -> None:
    batches = [(k, [k, k + 1]) for k in range(6)]
    assert list(parallel.ordered_map(_dies_in_a_worker, iter(batches), 2)) == [
        (k, [2 * k, 2 * k + 2]) for k in range(6)]


def test_every_format_survives_odd_rows(tmp_path: Path) -> None:
    """No text, no fingerprint, odd line breaks, an interrupted answer, a scores-only vote."""
    path = tmp_path / "odd.db"
    build_log(path)
    db = sqlite3.connect(path)
    with db:
        db.execute("UPDATE responses SET text = NULL, model_id = NULL, status = 'interrupted' WHERE id = 1")
        db.execute("UPDATE responses SET text = ? WHERE id = 2", ["line\u2028sep\r\nwin\x85nel 🙂"])
        db.execute("INSERT INTO votes (prompt_id, created_at, outcome, response_ids, scores, blind) "
                   "VALUES (3, '2026-01-01', NULL, '[5, 6]', '{\"5\": 4}', 0)")
    db.close()
    lines = exported(path, "jsonl").splitlines()
    assert len(lines) == 6
    odd = [json.loads(line) for line in lines]
    assert odd[0]["model"] is None and odd[0]["text"] is None and odd[1]["text"].endswith("🙂")
    rows = list(csv.DictReader(io.StringIO(exported(path, "csv"), newline="")))
    assert rows[1]["text"] == "line\u2028sep\r\nwin\x85nel 🙂" and rows[0]["model_engine"] == ""
    assert rows[4]["mean_score"] == "4" and rows[4]["votes"] == "0"
    assert "fingerprint pending" in exported(path, "markdown")
    assert "fingerprint pending" in exported(path, "html")


# -- CLI -----------------------------------------------------------------------------------------

def invoke(*args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)


def error_line(result: Result) -> str:
    assert result.exit_code == 2, (result.exit_code, result.stdout, result.stderr)
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("workbench: error: ")
    assert_one_line(lines[0])
    return lines[0]


@pytest.mark.parametrize("fmt", list(export.ANSWER_FORMATS))
def test_cli_export_to_stdout(log, fmt: str) -> None:
    path, ids = log
    result = invoke("export", "--format", fmt, "--db", str(path))
    assert result.exit_code == 0, result.stderr
    out = result.stdout
    if fmt == "jsonl":
        assert [json.loads(line)["id"] for line in out.splitlines()] == list(ids["answers"])
    elif fmt == "csv":
        assert len(list(csv.DictReader(io.StringIO(out, newline="")))) == 6
    elif fmt == "markdown":
        assert out.startswith("# Workbench log") and "#### B · broken" in out
    else:
        assert out.startswith("<!doctype html>") and out.rstrip().endswith("</html>")


def test_cli_export_one_session_to_a_file(log, tmp_path: Path) -> None:
    path, ids = log
    target = tmp_path / "report.html"
    result = invoke("--db", str(path), "export", "--format", "html", "--session", str(ids["sessions"][1]),
                    "-o", str(target))
    assert result.exit_code == 0, result.stderr
    assert result.stdout == ""
    assert result.stderr.strip() == f"Wrote 2 answers to {target}."
    prompts = Tree(target.read_text(encoding="utf-8")).root.find("details", "prompt")
    assert [d.attrs["id"] for d in prompts] == [f"p{ids['prompts'][2]}"]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".report.html")]  # no temporary file left
    umask = os.umask(0)
    os.umask(umask)
    assert target.stat().st_mode & 0o777 == 0o666 & ~umask


def test_cli_unknown_session(log) -> None:
    path, _ids = log
    line = error_line(invoke("export", "--format", "jsonl", "--session", "99", "--db", str(path)))
    assert "no session 99" in line and str(path) in line


def test_cli_missing_log_is_not_created(tmp_path: Path) -> None:
    missing = tmp_path / "nope.db"
    line = error_line(invoke("export", "--format", "csv", "--db", str(missing)))
    assert str(missing) in line
    assert not missing.exists()


def test_cli_output_folder_missing(log, tmp_path: Path) -> None:
    path, _ids = log
    line = error_line(invoke("export", "--format", "csv", "--db", str(path), "-o", str(tmp_path / "no" / "x.csv")))
    assert "x.csv" in line


def test_cli_failed_export_leaves_no_half_file(log, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path, _ids = log
    target = tmp_path / "out.jsonl"
    target.write_text("the previous export\n")
    import workbench.export.jsonl as jsonl_module

    def half(db, out, session_id=None):
        out.write('{"id": 1}\n{"id": ')
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(jsonl_module, "write", half)
    with pytest.raises(RuntimeError, match="disk on fire"):
        invoke("export", "--format", "jsonl", "--db", str(path), "-o", str(target))
    assert target.read_text() == "the previous export\n"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".out.jsonl")]


# -- no key anywhere -----------------------------------------------------------------------------

LEAK_ENV = "WB_LEAK_KEY"
LEAK_KEY = "wb-leak-test-key-12345"


@pytest.fixture(scope="module")
def leak_server(smollm2, tmp_path_factory: pytest.TempPathFactory):
    """A real llama_cpp.server on 127.0.0.1 that only answers requests carrying the leak-test key."""
    from conftest import running_llama_server

    with running_llama_server(smollm2, LEAK_KEY, tmp_path_factory.mktemp("leak-server") / "server.log") as server:
        yield server.base_url


def test_api_key_is_in_no_log_file_and_no_export(workbench_home: Path, leak_server: str, llama_server,
                                                 faulty_server, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(LEAK_ENV, LEAK_KEY)
    models = {
        "leak-ok": leak_server,  # accepts the key: a complete answer
        "leak-rejected": llama_server.base_url,  # wants another key: the provider's 401, quoted back
        "leak-cut": faulty_server.api_base("error"),  # two chunks, then an error event
    }
    (workbench_home / "config.toml").write_text("".join(
        f'[[models]]\nname = "{name}"\nengine = "litellm"\nmodel = "openai/smollm2"\napi_base = "{base}"\n'
        f'api_key_env = "{LEAK_ENV}"\ntimeout = 30\n\n' for name, base in models.items()))
    before = len(faulty_server.requests)
    result = invoke("run", "Say hello.", *[a for m in models for a in ("-m", m)], "--json", "--max-tokens", "16",
                    "--temperature", "0")
    assert result.exit_code == 1, result.stdout + result.stderr  # two of the three failed, as intended
    answers = {a["model"]: a for a in json.loads(result.stdout)}
    assert answers["leak-ok"]["status"] == "complete", answers["leak-ok"]["error"]
    assert answers["leak-rejected"]["status"] == "failed" and answers["leak-rejected"]["error"]
    assert answers["leak-cut"]["status"] == "failed" and answers["leak-cut"]["text"] == "Hello there"
    sent = [{k.lower(): v for k, v in headers.items()} for _mode, _path, headers, _body in faulty_server.requests[before:]]
    assert any(LEAK_KEY in h.get("authorization", "") for h in sent), f"the key was not even sent: {sent}"

    db_path = workbench_home / "workbench.db"
    outputs = {"run --json": result.stdout + result.stderr}
    for fmt in export.ANSWER_FORMATS:
        res = invoke("export", "--format", fmt)
        assert res.exit_code == 0, res.stderr
        assert "leak-ok" in res.stdout
        outputs[fmt] = res.stdout + res.stderr
    files = [p for p in workbench_home.iterdir() if p.name.startswith("workbench.db")]
    assert db_path in files
    for file in files:
        outputs[file.name] = file.read_bytes().decode("latin-1")
    assert "Hello there" in outputs["workbench.db"] + outputs.get("workbench.db-wal", "")  # the log is readable
    for where, text in outputs.items():
        for needle in (LEAK_KEY, "leak-test-key", LEAK_KEY.encode("utf-16-le").decode("latin-1")):
            assert needle not in text, f"the key leaked into {where}"


# -- where -o may write ----------------------------------------------------------------------------

def test_cli_export_writes_through_a_symlink_to_its_file(log, tmp_path: Path) -> None:
    path, _ids = log
    real = tmp_path / "real.jsonl"
    real.write_text("old\n")
    link = tmp_path / "link.jsonl"
    link.symlink_to(real)
    result = invoke("export", "--format", "jsonl", "--db", str(path), "-o", str(link))
    assert result.exit_code == 0, result.stderr
    assert link.is_symlink() and os.readlink(link) == str(real)  # the link is kept, its target replaced
    assert len(real.read_text().splitlines()) == 6
    assert not [p for p in tmp_path.iterdir() if ".part" in p.name]


@pytest.mark.parametrize("kind", ["fifo", "device", "link to device"])
def test_cli_export_refuses_what_is_not_a_regular_file(log, tmp_path: Path, kind: str) -> None:
    import stat

    path, _ids = log
    target = tmp_path / "out.jsonl"
    if kind == "fifo":
        os.mkfifo(target)
    else:  # a node of its own (/dev/null's numbers), so a failing run replaces nothing of the system's
        node = target if kind == "device" else tmp_path / "null"
        os.mknod(node, stat.S_IFCHR | 0o666, os.makedev(1, 3))
        if kind == "link to device":
            target.symlink_to(node)
    before = os.lstat(target)
    line = error_line(invoke("export", "--format", "jsonl", "--db", str(path), "-o", str(target)))
    assert str(target) in line and "not a regular file" in line
    after = os.lstat(target)
    assert (after.st_mode, after.st_ino) == (before.st_mode, before.st_ino)  # left as it was
    assert not [p for p in tmp_path.iterdir() if ".part" in p.name]


def _chattr(flag: str, path: Path) -> bool:
    import shutil
    import subprocess

    return shutil.which("chattr") is not None and subprocess.run(
        ["chattr", flag, str(path)], capture_output=True).returncode == 0


def test_cli_export_onto_an_immutable_file_is_one_line(log, tmp_path: Path) -> None:
    path, _ids = log
    target = tmp_path / "locked.jsonl"
    target.write_text("kept\n")
    if not _chattr("+i", target):
        pytest.skip("chattr +i needs root on a file system that has it")
    try:
        line = error_line(invoke("export", "--format", "jsonl", "--db", str(path), "-o", str(target)))
    finally:
        _chattr("-i", target)
    assert str(target) in line
    assert target.read_text() == "kept\n"
    assert not [p for p in tmp_path.iterdir() if ".part" in p.name]


def test_cli_export_onto_a_full_disk_is_one_line(log, tmp_path: Path) -> None:
    import subprocess

    path, _ids = log
    disk = tmp_path / "disk"
    disk.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(disk)],
                      capture_output=True).returncode != 0:
        pytest.skip("mounting a small tmpfs needs root")
    try:
        with open(disk / "filler", "wb", buffering=0) as fh:  # fill it, so the export's first block cannot land
            try:
                while True:
                    fh.write(b"\0" * 4096)
            except OSError:
                pass
        target = disk / "out.jsonl"
        line = error_line(invoke("export", "--format", "jsonl", "--db", str(path), "-o", str(target)))
        assert str(target) in line and "No space left" in line
        assert not target.exists() and [p.name for p in disk.iterdir()] == ["filler"]
    finally:
        subprocess.run(["umount", str(disk)], capture_output=True)


# -- code without fences -------------------------------------------------------------------------

def test_html_shows_code_without_fences_as_code_and_prose_as_prose(tmp_path: Path) -> None:
    path = tmp_path / "log.db"
    store = Store(path)
    try:
        rec = store.start_session("run")
        _ask(rec, "Factorial in Python", [ReplayEngine("small", unfenced.PYTHON_WITH_COMMENTS),
                                          ReplayEngine("prose", unfenced.PROSE), ReplayEngine("fenced", ALPHA)])
    finally:
        store.close()
    small, prose, fenced = Tree(exported(path, "html")).root.find("article", "answer")
    # The bare code: one highlighted block, its lines as written; `# comment` is a comment, not a heading.
    (pre,) = small.find("pre", "highlight")
    assert pre.attrs["data-lang"] == "python"
    assert pre.all_text() == unfenced.PYTHON_CODE
    spans = {(s.attrs.get("class"), s.all_text()) for s in pre.find("span")}
    assert ("c1", "# Function to calculate the factorial") in spans and ("k", "def") in spans
    assert not small.find("h1") and not small.find("h2")
    paragraphs = [p.all_text() for p in small.find("p")]
    assert paragraphs[0].startswith("Here is a Python function") and paragraphs[-1].startswith("This function uses")
    # Prose keeps its headings, lists, table and quote, and gets no code block.
    assert not prose.find("pre")
    assert [h.all_text() for h in prose.find("h1")] == ["Sorting algorithms", "Summary"]
    assert len(prose.find("li")) == 7 and prose.find("table") and prose.find("blockquote")
    # A fenced answer is rendered as before.
    (code,) = fenced.find("pre", "highlight")
    assert code.attrs["data-lang"] == "python" and 'return f"hello {name}"' in code.all_text()


def test_html_render_unit_fences_only_unfenced_code() -> None:
    bare, fenced, empty = html_export._render([unfenced.SMOLLM2_C, ALPHA, None])
    assert bare.count("<pre") == 1 and 'data-lang="c"' in bare and "<h1" not in bare
    assert fenced == html_export.render_many([ALPHA])[0]
    assert empty == ""
