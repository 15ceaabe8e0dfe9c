"""Read queries over the log; each takes a `sqlite_utils.Database` and returns plain dicts."""

from __future__ import annotations

import datetime as dt
import json
from typing import Iterator, Mapping

from sqlite_utils import Database

from workbench.prompts import stale

_ANSWERS = """
SELECT r.*, p.session_id, p.text AS prompt_text, p.system AS prompt_system, p.params AS prompt_params,
       p.created_at AS prompt_created_at, p.tags AS prompt_tags, p.title AS prompt_title,
       p.prompt_key AS prompt_key, p.repeat AS prompt_repeat, s.name AS session_name, s.started_at AS session_started_at,
       s.source AS session_source, coalesce(p.conversation, 'prompt-' || p.id) AS conversation,
       coalesce(p.turn, 1) AS turn, p.parent_id AS parent_prompt_id,
       p.created AS prompt_library_created
FROM responses r
JOIN prompts p ON p.id = r.prompt_id
JOIN sessions s ON s.id = p.session_id
{where}
ORDER BY p.session_id, p.id, r.position, r.attempt
"""

MODEL_FIELDS = ("id", "name", "engine", "sha256", "path", "architecture", "quantization", "parameters",
                "context_length", "chat_template_sha256", "llama_cpp_version", "gpu_offload", "n_gpu_layers",
                "litellm_model", "api_host", "provider_model_id", "system_fingerprint")


def session_exists(db: Database, session_id: int) -> bool:
    """Whether a session of that id is in the log."""
    return db.execute("SELECT 1 FROM sessions WHERE id = ?", [session_id]).fetchone() is not None


def answers(db: Database, session_id: int | None = None, tag: str | None = None) -> Iterator[dict]:
    """One dict per answer, in prompt and pane order, with its prompt, session, model fingerprint and votes.

    Keys: the `responses` columns, plus `session_id`, `session_name`, `session_started_at`,
    `session_source`, `conversation` and `turn` (which turn of which conversation the prompt is),
    `parent_prompt_id`, `prompt_text`, `prompt_system`, `prompt_params` (a dict), `prompt_created_at`,
    `model` (the `models` row as a dict, or None while its fingerprint is pending) and `votes`
    (the prompt's votes, each a dict with `outcome`, `winner_response_id`, `response_ids`,
    `scores`, `note`, `blind`, `created_at`, and `won`: True/False/None for this answer), and
    `verification` (the latest run of its code against the prompt's tests, or None), `prompt_created` (the
    day the prompt was created, ISO, or None: see `_created`) and `stale` (True when that day is on or before
    the answer's `cutoff`, the model's as recorded with it: the model could have trained on the prompt). `tag`
    keeps the prompts tagged so.
    """
    conditions, params = prompt_filters(session_id, tag)
    where = "WHERE " + " AND ".join(conditions) if conditions else ""
    models = {row["id"]: row for row in db["models"].rows}
    votes: dict[int, list[dict]] = {}
    vote_sql = "SELECT v.* FROM votes v JOIN prompts p ON p.id = v.prompt_id"
    for vote in db.query(f"{vote_sql} {where}", params):
        vote["response_ids"] = json.loads(vote["response_ids"] or "[]")
        vote["scores"] = json.loads(vote["scores"] or "{}")
        votes.setdefault(vote["prompt_id"], []).append(vote)
    checks: dict[int, dict] = {}
    for check in db.query("SELECT * FROM verifications ORDER BY id"):
        checks[check["response_id"]] = check  # the latest run of each answer
    for row in db.query(_ANSWERS.format(where=where), params):
        row["prompt_params"] = json.loads(row["prompt_params"] or "{}")
        row["prompt_tags"] = json.loads(row["prompt_tags"] or "[]")
        created = _created(row.pop("prompt_library_created"), row["prompt_key"], row["prompt_created_at"])
        row["prompt_created"] = created.isoformat() if created else None
        row["stale"] = stale(created, row.get("cutoff"))
        model = models.get(row["model_id"])
        row["model"] = {k: model[k] for k in MODEL_FIELDS} if model else None
        check = checks.get(row["id"])
        row["verification"] = {k: check[k] for k in ("outcome", "passed", "total", "exit_status", "duration_ms",
                                                     "language", "isolated_network", "note", "created_at")
                               } if check else None
        row["votes"] = [
            dict(v, won=(None if v["outcome"] != "winner" or row["id"] not in v["response_ids"]
                         else v["winner_response_id"] == row["id"]))
            for v in votes.get(row["prompt_id"], [])
        ]
        yield row


def sessions(db: Database) -> list[dict]:
    """Every session, newest first, with its prompt count, models, answer and vote counts."""
    out = []
    for s in db.query("SELECT * FROM sessions ORDER BY id DESC"):
        sid = s["id"]
        s["prompts"] = db.execute("SELECT count(*) FROM prompts WHERE session_id = ?", [sid]).fetchone()[0]
        s["answers"] = db.execute(
            "SELECT count(*) FROM responses r JOIN prompts p ON p.id = r.prompt_id WHERE p.session_id = ?",
            [sid]).fetchone()[0]
        s["models"] = [r[0] for r in db.execute(
            "SELECT DISTINCT r.model_name FROM responses r JOIN prompts p ON p.id = r.prompt_id "
            "WHERE p.session_id = ? ORDER BY r.position", [sid]).fetchall()]
        s["votes"] = db.execute(
            "SELECT count(*) FROM votes v JOIN prompts p ON p.id = v.prompt_id WHERE p.session_id = ? "
            "AND v.retracted_at IS NULL AND v.outcome IS NOT NULL", [sid]).fetchone()[0]
        s["first_prompt"] = (db.execute("SELECT text FROM prompts WHERE session_id = ? ORDER BY id LIMIT 1",
                                        [sid]).fetchone() or [None])[0]
        out.append(s)
    return out


def prompts(db: Database, limit: int = 500) -> list[dict]:
    """Recent prompts, newest first, with their session and the models that answered."""
    rows = list(db.query(
        "SELECT p.id, p.session_id, p.text, p.created_at, coalesce(p.blind, 0) AS blind, coalesce(p.turn, 1) AS turn, "
        "EXISTS (SELECT 1 FROM votes v WHERE v.prompt_id = p.id AND v.retracted_at IS NULL "
        "        AND v.outcome IS NOT NULL) AS voted, "
        "group_concat(DISTINCT r.model_name) AS models, count(r.id) AS answers "
        "FROM prompts p LEFT JOIN responses r ON r.prompt_id = p.id "
        "GROUP BY p.id ORDER BY p.id DESC LIMIT ?", [limit]))
    return rows


def prompt_answers(db: Database, prompt_id: int) -> list[dict]:
    """The latest attempt of each pane's answer to one prompt, in pane order."""
    rows = list(db.query(
        "SELECT * FROM responses WHERE prompt_id = ? ORDER BY position, attempt", [prompt_id]))
    latest: dict[int, dict] = {}
    for row in rows:
        latest[row["position"]] = row
    return [latest[k] for k in sorted(latest)]


def prompt_filters(session_id: int | None = None, tag: str | None = None) -> tuple[list[str], list]:
    """SQL conditions (on prompts aliased `p`) and their parameters for a session and a tag."""
    where, params = [], []
    if session_id is not None:
        where.append("p.session_id = ?")
        params.append(session_id)
    if tag:
        where.append("EXISTS (SELECT 1 FROM json_each(coalesce(p.tags, '[]')) WHERE value = ?)")
        params.append(tag)
    return where, params


def vote_pairs(outcome: str, winner: int | None, ids: list[int], names: dict[int, str]) -> list[tuple[str, str, str]]:
    """The pairwise battles a vote implies, as (model_a, model_b, winner) in the arena format.

    A winner beats each other answer shown; a tie or "both bad" ties every pair. Pairs of the
    same model (two panes of one model) say nothing about a ranking and are left out.
    """
    return [(names[a], names[b], result) for a, b, result in _answer_pairs(outcome, winner, ids, names)]


def _answer_pairs(outcome: str, winner: int | None, ids: list[int], names: dict[int, str]) -> list[tuple]:
    """As `vote_pairs`, with the answers' row ids in place of their models' names."""
    ids = [i for i in ids if i in names]
    if outcome == "winner" and winner in names:
        pairs = [(winner, i, "model_a") for i in ids if i != winner]
    elif outcome in ("tie", "both_bad"):
        label = "tie" if outcome == "tie" else "tie (bothbad)"
        pairs = [(a, b, label) for k, a in enumerate(ids) for b in ids[k + 1:]]
    else:
        pairs = []
    return [p for p in pairs if names[p[0]] != names[p[1]]]


def _prompt_day(key: str | None, sent_at: str | None, dated: Mapping[str, dt.date | None]) -> dt.date | None:
    """When a logged prompt was created: a library prompt's `created` (None without one, or when `dated` does not
    know the name); a prompt typed in the app or given as text (no key, or an `adhoc-` one), the day it was sent."""
    if key is None or key.startswith("adhoc-"):
        return dt.date.fromisoformat(sent_at[:10]) if sent_at else None
    return dated.get(key)


def _created(stored: str | None, key: str | None, sent_at: str | None) -> dt.date | None:
    """The day a logged prompt was created: the prompt file's `created` as recorded with it, else as `_prompt_day`
    has it without a library (a typed prompt: the day it was sent; a library prompt of no recorded date: None)."""
    try:
        return dt.date.fromisoformat(stored[:10]) if stored else _prompt_day(key, sent_at, {})
    except (TypeError, ValueError):
        return None


def battles(db: Database, tag: str | None = None, session_id: int | None = None, since: str | None = None,
            until: str | None = None, blind_only: bool = False, style: bool = False,
            dated: Mapping[str, dt.date | None] | None = None) -> list:
    """The log's votes as pairwise battles: a winner beats each other answer shown; ties and both-bad tie all.

    With `style`, each battle carries both answers' length and markdown counts (`workbench.arena.style_of` of
    their texts), for style control. With `dated` (the prompt library's `created` dates by prompt name), each
    carries the day its prompt was created (see `_prompt_day`), for `leaderboard --fresh`.
    """
    from workbench.arena import Battle, style_of

    where, params = prompt_filters(session_id, tag)
    where.append("v.retracted_at IS NULL")
    if since:
        where.append("v.created_at >= ?")
        params.append(since)
    if until:
        where.append("v.created_at < ?")
        params.append(until)
    if blind_only:
        where.append("v.blind = 1")
    columns = "v.outcome, v.winner_response_id, v.response_ids"
    sql = (" FROM votes v JOIN prompts p ON p.id = v.prompt_id WHERE " + " AND ".join(where) + " ORDER BY v.id")
    names = {r[0]: r[1] for r in db.execute("SELECT id, model_name FROM responses").fetchall()}
    if not style and dated is None:
        return [Battle(*pair) for outcome, winner, ids in db.execute(f"SELECT {columns}{sql}", params).fetchall()
                for pair in vote_pairs(outcome, winner, json.loads(ids or "[]"), names)]
    sql = f"SELECT {columns}, p.prompt_key, p.created_at{sql}"
    rows = db.execute(sql, params).fetchall()
    styles: dict[int, object] = {}
    if style:
        shown = {i for row in rows for i in json.loads(row[2] or "[]")}
        for row_id, text in db.execute("SELECT id, text FROM responses"):
            if row_id in shown:
                styles[row_id] = style_of(text)
    out = []
    for outcome, winner, ids, key, sent_at in rows:
        day = _prompt_day(key, sent_at, dated) if dated is not None else None
        for a, b, result in _answer_pairs(outcome, winner, json.loads(ids or "[]"), names):
            out.append(Battle(names[a], names[b], result, styles.get(a), styles.get(b), day))
    return out


def pass_rates(db: Database, session_id: int | None = None, tag: str | None = None) -> dict[str, dict]:
    """Per model: how many answers were verified against tests and how many passed (latest run of each)."""
    where, params = prompt_filters(session_id, tag)
    where.append("v.total > 0 OR v.outcome IN ('pass', 'fail', 'error', 'timeout', 'no-code')")
    sql = ("SELECT r.model_name, v.outcome FROM verifications v JOIN responses r ON r.id = v.response_id "
           "JOIN prompts p ON p.id = r.prompt_id WHERE v.id IN (SELECT max(id) FROM verifications "
           "GROUP BY response_id) AND (" + ") AND (".join(where) + ")")
    out: dict[str, dict] = {}
    for model, outcome in db.execute(sql, params).fetchall():
        row = out.setdefault(model, {"run": 0, "passed": 0})
        row["run"] += 1
        row["passed"] += outcome == "pass"
    for row in out.values():
        row["pass_rate"] = round(row["passed"] / row["run"], 4)
    return out


def conversation_history(db: Database, parent_response_id: int | None, most: int = 10_000) -> list[dict]:
    """What a follow-up answer was sent before its prompt: its model's earlier prompts and answers, oldest first.

    Follows `parent_response_id` back (each answer names the same model's answer it continued), as
    `Comparison` built the history: a user message with the turn's prompt, then that answer's text.
    """
    messages: list[dict] = []
    seen: set[int] = set()
    while parent_response_id is not None and parent_response_id not in seen and len(seen) < most:
        seen.add(parent_response_id)
        row = db.execute("SELECT r.text, p.text, r.parent_response_id FROM responses r "
                         "JOIN prompts p ON p.id = r.prompt_id WHERE r.id = ?", [parent_response_id]).fetchone()
        if row is None:
            break
        messages[:0] = [{"role": "user", "content": row[1] or ""}, {"role": "assistant", "content": row[0] or ""}]
        parent_response_id = row[2]
    return messages


def session_rows(db: Database, ids: list[int]) -> list[dict]:
    """The `sessions` rows of these ids, in id order."""
    marks = ", ".join("?" for _ in ids)
    return list(db.query(f"SELECT * FROM sessions WHERE id IN ({marks}) ORDER BY id", list(ids))) if ids else []


def cached_sha256(db: Database, path: str, size: int, mtime_ns: int) -> str | None:
    """A GGUF's SHA-256 as the log cached it for this path, size and modification time, or None."""
    row = db.execute("SELECT sha256 FROM gguf_hashes WHERE path = ? AND size = ? AND mtime_ns = ?",
                     [path, size, mtime_ns]).fetchone()
    return row[0] if row else None
