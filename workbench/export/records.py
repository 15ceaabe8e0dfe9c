"""What every export format shares: answers grouped by prompt, vote tallies, figures and votes in words."""

from __future__ import annotations

from itertools import groupby
from statistics import mean
from typing import Iterable, Iterator

from workbench.figures import ms, shown_status

PARAMS = ("max_tokens", "temperature", "seed", "top_p")
OUTCOMES = {"winner": "won", "tie": "tie", "both_bad": "both bad"}


def by_prompt(rows: Iterable[dict]) -> Iterator[list[dict]]:
    """The answers of one prompt at a time (rows arrive in prompt order, so one prompt is held at once)."""
    for _prompt_id, group in groupby(rows, key=lambda row: row["prompt_id"]):
        yield list(group)


def active(votes: list[dict]) -> list[dict]:
    """The votes that stand: a changed or undone vote stays in the log, marked retracted."""
    return [v for v in votes if not v.get("retracted_at")]


def compared(vote: dict, response_id: int) -> bool:
    """Whether a vote judged this answer (a vote that lists no answers judged them all)."""
    ids = vote["response_ids"]
    return not ids or response_id in ids


def score(vote: dict, response_id: int) -> float | None:
    """The score this vote gave the answer (scores are keyed by response id, as JSON keys are strings)."""
    value = vote["scores"].get(str(response_id))
    return value if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def tally(row: dict) -> dict:
    """An answer's standing votes summed up: how many judged it, won, lost, tied, both bad; its mean score.

    A vote row with no outcome only carries scores: it counts towards the score, not the votes.
    """
    out = {"votes": 0, "wins": 0, "losses": 0, "ties": 0, "both_bad": 0}
    scores = []
    for vote in active(row["votes"]):
        if not compared(vote, row["id"]):
            continue
        out["votes"] += vote["outcome"] in OUTCOMES
        if vote["outcome"] == "winner":
            out["wins" if vote["winner_response_id"] == row["id"] else "losses"] += 1
        elif vote["outcome"] == "tie":
            out["ties"] += 1
        elif vote["outcome"] == "both_bad":
            out["both_bad"] += 1
        if (value := score(vote, row["id"])) is not None:
            scores.append(value)
    out["mean_score"] = round(mean(scores), 2) if scores else None
    return out


def label(row: dict) -> str:
    """The pane label the answer was shown under (A, B, …)."""
    return row.get("label") or chr(ord("A") + (row.get("position") or 0))


def who(row: dict) -> str:
    """'A · smollm2' (with the attempt when the answer was regenerated)."""
    again = f" (attempt {row['attempt'] + 1})" if row.get("attempt") else ""
    return f"{label(row)} · {row['model_name']}{again}"


def vote_words(vote: dict, names: dict[int, str]) -> str:
    """'B · gemma won; scores A · smollm2 2, B · gemma 5; blind' — the note is left to the caller."""
    outcome = vote["outcome"]
    if outcome == "winner":
        winner = vote["winner_response_id"]
        words = f"{names.get(winner, f'answer {winner}')} won"
    else:
        words = OUTCOMES.get(outcome, outcome) if outcome else "scored, no verdict"
    parts = [words]
    scored = [f"{names.get(int(k), f'answer {k}') if str(k).isdigit() else k} {v}"
              for k, v in vote["scores"].items()]
    if scored:
        parts.append("scores " + ", ".join(scored))
    if vote.get("blind"):
        parts.append("blind")
    return "; ".join(parts)


def figures(row: dict) -> dict[str, str]:
    """The answer's figures as short words: status, TTFT, tok/s, tokens, duration."""
    rate = row.get("tokens_per_s")
    tokens = row.get("completion_tokens")
    return {
        "status": shown_status(row.get("status"), row.get("finish_reason")) or "–",
        "ttft": ms(row.get("ttft_ms")),
        "tok_s": f"{rate:.1f}" if rate else "–",
        "tokens": str(tokens) if tokens is not None else "–",
        "duration": ms(row.get("duration_ms")),
        "tests": tests_words(row.get("verification")),
    }


def tests_words(check: dict | None) -> str:
    """A verification in a few words: 'pass 5/5', 'fail 2/5', 'timeout', or '–' when not run."""
    if not check:
        return "–"
    if check.get("total"):
        return f"{check['outcome']} {check['passed']}/{check['total']}"
    return check.get("outcome") or "–"


def stale_words(row: dict) -> str | None:
    """'prompt predates cutoff: prompt created 2024-01-15, model cutoff 2024-08' for an answer whose model could
    have trained on its prompt (`stale`, from the log: see `workbench.store.queries.answers`), else None."""
    if not row.get("stale"):
        return None
    return f"prompt predates cutoff: prompt created {row['prompt_created']}, model cutoff {row['cutoff']}"


def params_words(params: dict) -> str:
    """'max_tokens 512 · temperature 0' — only the parameters that were set."""
    return " · ".join(f"{k} {params[k]}" for k in PARAMS if params.get(k) is not None)


def fingerprint_words(model: dict | None) -> str:
    """What identifies the weights, in a few words: GGUF hash and quantisation, or the provider's ids."""
    if not model:
        return "fingerprint pending"
    if model.get("engine") == "llama":
        parts = [model.get("architecture"), model.get("quantization"),
                 f"sha256 {model['sha256'][:12]}" if model.get("sha256") else "sha256 pending",
                 "GPU" if model.get("gpu_offload") else None]
    elif model.get("engine") == "litellm":
        parts = [model.get("litellm_model"), f"@ {model['api_host']}" if model.get("api_host") else None,
                 model.get("provider_model_id"), model.get("system_fingerprint")]
    else:
        parts = [model.get("engine")]
    return " · ".join(str(p) for p in parts if p) or str(model.get("id"))


def first_line(text: str | None, width: int = 80) -> str:
    """The first non-blank line of a prompt, cut to `width` characters."""
    line = next((ln.strip() for ln in (text or "").splitlines() if ln.strip()), "(empty prompt)")
    return line if len(line) <= width else line[: width - 1].rstrip() + "…"
