"""HTML: one self-contained report (inline CSS, no scripts, nothing fetched) that stays usable at 1,000 prompts.

At the top, a summary per model and a table of contents; then, per session, one collapsible
<details> per prompt (open when there are only a few) whose answers sit side by side in a CSS
grid, each with its figures (and, for a graphics program that was run, its animation: an animated
WebP in a data: URI), code highlighted by Pygments, and the votes below them. Code an
answer left without a fence is found (workbench.codeblocks) and shown as code too, not as prose.
"""

from __future__ import annotations

import base64
import json
from collections import defaultdict
from datetime import datetime, timezone
from html import escape
from statistics import median
from typing import Iterator, TextIO

from sqlite_utils import Database

from workbench import __version__
from workbench.codeblocks import with_fences
from workbench.export import parallel
from workbench.export.answer_html import render_many
from workbench.export.html_style import stylesheet
from workbench.export.records import (
    active,
    by_prompt,
    figures,
    fingerprint_words,
    first_line,
    label,
    params_words,
    stale_words,
    tally,
    vote_words,
    who,
)
from workbench.figures import ms
from workbench.parity import loads, rows, shown_text
from workbench.store.queries import answers

OPEN_UP_TO = 20  # with more prompts than this they start collapsed
PARALLEL_FROM = 400  # answers; below this, starting worker processes costs more than it saves
BATCH = 24  # prompts per unit of work handed to a worker
# Even if something slipped through the escaping, the browser would neither fetch nor run it.
CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"


def _e(value) -> str:
    return escape("" if value is None else str(value))


def _overview(db: Database, session_id: int | None) -> dict:
    """What the head of the report needs before the first prompt: per-model figures and the contents."""
    where, args = ("WHERE p.session_id = ?", [session_id]) if session_id is not None else ("", [])
    models = {row["id"]: row for row in db["models"].rows}
    stats: dict = defaultdict(lambda: {"answers": 0, "failed": 0, "ttft": [], "rate": [], "wins": 0, "votes": 0})
    key_of: dict[int, tuple] = {}
    prompts: dict[int, dict] = {}
    sessions: dict[int, dict] = {}
    for rid, pid, sid, name, model_id, status, ttft, rate, head, s_name, s_start, s_source in db.execute(
            "SELECT r.id, r.prompt_id, p.session_id, r.model_name, r.model_id, r.status, r.ttft_ms, r.tokens_per_s, "
            "substr(p.text, 1, 400), s.name, s.started_at, s.source FROM responses r "
            "JOIN prompts p ON p.id = r.prompt_id JOIN sessions s ON s.id = p.session_id "
            f"{where} ORDER BY p.session_id, p.id, r.position, r.attempt", args):
        key = key_of[rid] = (name, model_id)
        s = stats[key]
        s["answers"] += 1
        s["failed"] += status == "failed"
        if ttft is not None and status == "complete":
            s["ttft"].append(ttft)
        if rate is not None and status == "complete":
            s["rate"].append(rate)
        if pid not in prompts:
            prompts[pid] = {"session_id": sid, "head": head}
            session = sessions.setdefault(sid, {"name": s_name, "started_at": s_start, "source": s_source,
                                                "prompts": 0})
            session["prompts"] += 1
    standing = "v.outcome IS NOT NULL" + (" AND v.retracted_at IS NULL" if "retracted_at" in db["votes"].columns_dict
                                          else "")
    vote_sql = ("SELECT v.outcome, v.winner_response_id, v.response_ids FROM votes v JOIN prompts p "
                f"ON p.id = v.prompt_id {where + ' AND' if where else 'WHERE'} {standing}")
    n_votes = 0
    for outcome, winner, ids in db.execute(vote_sql, args):
        n_votes += 1
        for rid in json.loads(ids or "[]"):
            if rid in key_of:
                stats[key_of[rid]]["votes"] += 1
        if outcome == "winner" and winner in key_of:
            stats[key_of[winner]]["wins"] += 1
    return {"stats": stats, "models": models, "prompts": prompts, "sessions": sessions, "answers": len(key_of),
            "votes": n_votes}


def _summary(view: dict) -> str:
    rows = []
    for (name, model_id), s in sorted(view["stats"].items(), key=lambda kv: (kv[0][0], kv[0][1] or "")):
        model = view["models"].get(model_id)
        fp = fingerprint_words(model)
        ttft = ms(median(s["ttft"])) if s["ttft"] else "–"
        rate = f"{median(s['rate']):.1f}" if s["rate"] else "–"
        rows.append(f"<tr><td>{_e(name)}</td><td class=\"fp\">{_e(fp)}</td><td class=\"num\">{s['answers']}</td>"
                    f"<td class=\"num\">{s['failed']}</td><td class=\"num\">{_e(ttft)}</td>"
                    f"<td class=\"num\">{_e(rate)}</td><td class=\"num\">{s['wins']} / {s['votes']}</td></tr>")
    return ("<section id=\"models\"><h2>Models</h2><table><thead><tr><th>Model</th><th>Fingerprint</th>"
            "<th class=\"num\">Answers</th><th class=\"num\">Failed</th><th class=\"num\">Median TTFT</th>"
            "<th class=\"num\">Median tok/s</th><th class=\"num\">Wins / votes</th></tr></thead><tbody>"
            + "".join(rows) + "</tbody></table></section>\n")


def _session_words(sid: int, s: dict) -> str:
    name = f" “{s['name']}”" if s["name"] else ""
    started = (s["started_at"] or "")[:19].replace("T", " ")
    return f"Session {sid}{name} · {started} UTC · {s['source']} · {s['prompts']} prompt{'s' * (s['prompts'] != 1)}"


def _contents(view: dict) -> str:
    sessions = "".join(f"<li><a href=\"#s{sid}\">{_e(_session_words(sid, s))}</a></li>"
                       for sid, s in view["sessions"].items())
    items = "".join(f"<li value=\"{pid}\"><a href=\"#p{pid}\">{_e(first_line(p['head'], 90))}</a></li>"
                    for pid, p in view["prompts"].items())
    many = len(view["prompts"]) > OPEN_UP_TO
    return (f"<nav id=\"contents\"><h2>Contents</h2><ul>{sessions}</ul>"
            f"<details{'' if many else ' open'}><summary>All {len(view['prompts'])} prompts</summary>"
            f"<ol>{items}</ol></details></nav>\n")


def _texts(group: list[dict]) -> list[str]:
    """What one prompt needs rendered: the prompt, then each answer."""
    return [group[0]["prompt_text"]] + [row["text"] for row in group]


def _render(texts: list[str | None]) -> list[str]:
    """The unit of work a rendering process is given: each text as HTML, its unfenced code fenced first."""
    return render_many([with_fences(t) if t else t for t in texts])


def _animations(db: Database, group: list[dict]) -> dict[int, dict]:
    """The animation of each answer's latest run, for answers whose program drew (graphics prompts)."""
    ids = [row["id"] for row in group]
    marks = ",".join("?" * len(ids))
    sql = (f"SELECT a.response_id, a.mime, a.data, a.summary, a.width, a.height FROM animations a "
           f"WHERE a.verification_id IN (SELECT max(id) FROM verifications WHERE response_id IN ({marks}) "
           "GROUP BY response_id)")
    return {rid: {"mime": mime, "data": data, "summary": summary, "width": width, "height": height}
            for rid, mime, data, summary, width, height in db.execute(sql, ids)}


def _animation(anim: dict | None) -> str:
    """An answer's animation as an <img> (a data: URI: the report stays one offline file, the CSP allows it)."""
    if not anim or not anim["data"] or anim["mime"] not in ("image/webp", "image/png", "image/gif"):
        return ""
    size = f" width=\"{int(anim['width'])}\" height=\"{int(anim['height'])}\"" if anim["width"] else ""
    src = f"data:{anim['mime']};base64,{base64.b64encode(anim['data']).decode()}"
    return (f"<figure class=\"anim\"><img src=\"{src}\"{size} alt=\"{_e(anim['summary'])}\">"
            f"<figcaption>{_e(anim['summary'])}</figcaption></figure>")


def _answer(row: dict, body: str, best: int, anim: dict | None = None) -> str:
    t = tally(row)
    f = figures(row)
    classes = ["answer"] + (["won"] if best and t["wins"] == best else []) + (["failed"] if row["error"] else [])
    badge = ""
    if t["votes"]:
        badge = f"<span class=\"badge\">won {t['wins']} of {t['votes']}</span>" if t["votes"] > 1 else (
            "<span class=\"badge\">★ winner</span>" if t["wins"] else "")
    again = f" <span class=\"meta\">attempt {row['attempt'] + 1}</span>" if row["attempt"] else ""
    error = f"<div class=\"error\">{_e(row['status'])}: {_e(row['error'])}</div>" if row["error"] else ""
    text = body if (row["text"] or "").strip() else "<p class=\"empty\">(no text)</p>"
    stale = stale_words(row)  # the model could have trained on this prompt
    flag = f"<div class=\"stale\">⚠ {_e(stale)}</div>" if stale else ""
    return (f"<article class=\"{' '.join(classes)}\"><header><span class=\"label\">{_e(label(row))}</span>"
            f"<span class=\"model\">{_e(row['model_name'])}</span>{again}{badge}"
            f"<div class=\"fp\">{_e(fingerprint_words(row['model']))}</div>{flag}"
            f"<div class=\"figs\"><span class=\"s-{_e(f['status'])}\">{_e(f['status'])}</span> · TTFT {_e(f['ttft'])}"
            f" · {_e(f['tok_s'])} tok/s · {_e(f['tokens'])} tok · {_e(f['duration'])}"
            + (f" · tests <span class=\"s-{_e(f['tests'].split()[0])}\">{_e(f['tests'])}</span>"
               if f["tests"] != "–" else "") + "</div></header>"
            f"{error}{_animation(anim)}<div class=\"md\">{text}</div></article>")


def _prompt(group: list[dict], html: list[str], open_: bool, anims: dict[int, dict] | None = None) -> str:
    head = group[0]
    names = {row["id"]: who(row) for row in group}
    best = max(tally(row)["wins"] for row in group)
    votes = active(head["votes"])
    verdict = vote_words(votes[-1], names).split(";")[0] if len(votes) == 1 else (
        f"{len(votes)} votes" if votes else "no vote")
    models = " vs ".join(dict.fromkeys(row["model_name"] for row in group))
    when = (head["prompt_created_at"] or "")[:19].replace("T", " ")
    meta = " · ".join(p for p in (when and f"{when} UTC", params_words(head["prompt_params"])) if p)
    system = f"<p class=\"params\">System prompt:</p><pre class=\"system\">{_e(head['prompt_system'])}</pre>" \
        if head["prompt_system"] else ""
    cells = "".join(_answer(r, h, best, (anims or {}).get(r["id"])) for r, h in zip(group, html[1:]))
    vote_items = "".join(
        f"<li>{_e(vote_words(v, names))} <span class=\"when\">{_e((v['created_at'] or '')[:19].replace('T', ' '))}"
        f"</span>{' — “' + _e(v['note']) + '”' if v.get('note') else ''}</li>" for v in votes)
    return (f"<details class=\"prompt\" id=\"p{head['prompt_id']}\"{' open' if open_ else ''}><summary>"
            f"<span class=\"pid\">#{head['prompt_id']}</span>"
            + (f"<span class=\"turn\">turn {int(head['turn'])}</span> " if head["turn"] > 1 else "")
            + f"{_e(first_line(head['prompt_text'], 100))}"
            f"<span class=\"meta\">{_e(models)} · {_e(verdict)}</span></summary><div class=\"pbody\">"
            f"<p class=\"params\">{_e(meta)}</p>{system}<div class=\"ptext\">{html[0]}</div>"
            f"<div class=\"answers\">{cells}</div>{_parity(group)}"
            + (f"<ol class=\"votes\">{vote_items}</ol>" if votes else "<p class=\"params\">No vote.</p>")
            + "</div></details>\n")


_DIFFERS = "<tr class=\"differs\"><td title=\"the answers received different values\">≠</td>"


def _parity(group: list[dict]) -> str:
    """'Parameter parity': what each answer's model was given (workbench/parity.py), a row per parameter with the
    differing rows marked, then each one's whole prompt text (or messages), escaped. Empty when none reported it."""
    records = [loads(row.get("received")) for row in group]
    if not any(records):
        return ""
    found = rows(records)
    differ = [row.name for row in found if row.differs]
    heads = "".join(f"<th>{_e(who(row))}</th>" for row in group)
    body = "".join(
        (_DIFFERS if row.differs else "<tr><td></td>") + f"<th>{_e(row.name)}</th>"
        + "".join(f"<td>{_e(v)}</td>" for v in row.values) + "</tr>" for row in found)
    texts = "".join(
        f"<details class=\"received\"><summary>{_e(who(row))} received: {_e(record.get('prompt_source'))}"
        + (f" (cut to fit: {_e(', '.join(record['truncated']))})" if record.get("truncated") else "")
        + f"</summary><pre>{_e(shown_text(record))}</pre></details>"
        for row, record in zip(group, records) if record)
    summary = (f"{len(differ)} difference{'s' * (len(differ) != 1)}: {', '.join(differ)}" if differ
               else "the same for every answer")
    return (f"<details class=\"parity\"><summary>Parameter parity — {_e(summary)}</summary>"
            f"<table><thead><tr><th></th><th>Parameter</th>{heads}</tr></thead><tbody>{body}</tbody></table>"
            f"{texts}</details>")


def _batches(groups: Iterator[list[dict]]) -> Iterator[tuple[list[list[dict]], list[str]]]:
    batch: list[list[dict]] = []
    for group in groups:
        batch.append(group)
        if len(batch) == BATCH:
            yield batch, [t for g in batch for t in _texts(g)]
            batch = []
    if batch:
        yield batch, [t for g in batch for t in _texts(g)]


def write(db: Database, out: TextIO, session_id: int | None = None) -> int:
    """Write the report; returns how many answers it holds."""
    view = _overview(db, session_id)
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    scope = f"session {session_id}" if session_id is not None else "every session"
    out.write(f"<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
              f"<meta http-equiv=\"Content-Security-Policy\" content=\"{CSP}\">"
              "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
              f"<title>Workbench log — {len(view['prompts'])} prompts</title>\n<style>\n{stylesheet()}\n</style>"
              f"</head>\n<body>\n<header><h1>Workbench log</h1><p class=\"meta\">Exported {stamp} by workbench "
              f"{_e(__version__)}, {scope}: {len(view['prompts'])} prompts, {view['answers']} answers, "
              f"{view['votes']} votes.</p></header>\n")
    if not view["answers"]:
        out.write("<p>No answers.</p>\n</body></html>\n")
        return 0
    out.write(_summary(view))
    out.write(_contents(view))
    out.write("<main>\n")
    open_ = len(view["prompts"]) <= OPEN_UP_TO
    workers = min(parallel.cores(), parallel.MAX_WORKERS) if view["answers"] >= PARALLEL_FROM else 1
    count = 0
    session = None
    drawn = "animations" in db.table_names() and db["animations"].count > 0
    for batch, rendered in parallel.ordered_map(_render, _batches(by_prompt(answers(db, session_id))), workers):
        at = 0
        for group in batch:
            sid = group[0]["session_id"]
            if sid != session:
                session = sid
                out.write(f"<h2 class=\"session\" id=\"s{sid}\">"
                          f"{_e(_session_words(sid, view['sessions'][sid]))}</h2>\n")  # one snapshot: it is there
            n = len(group) + 1
            anims = _animations(db, group) if drawn else None
            out.write(_prompt(group, rendered[at: at + n], open_, anims))
            at += n
            count += len(group)
    out.write("</main>\n</body></html>\n")
    return count
