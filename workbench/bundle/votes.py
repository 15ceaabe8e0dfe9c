"""A bundle's votes as pairwise battles, and its tests passed per model, for `workbench leaderboard --bundle`."""

from __future__ import annotations

from workbench.bundle.format import Bundle, read_bundle


def bundle_battles(path, tag: str | None = None, session_id: int | None = None, since: str | None = None,
                   until: str | None = None, blind_only: bool = False) -> tuple[list, dict[str, dict], dict[str, str]]:
    """The standing votes of a bundle (filtered as the log's are) as battles, per-model test pass counts, and each
    model's cutoff as its answers recorded it (`cutoffs`; for `--fresh`), from one read of the file."""
    from workbench.arena import Battle
    from workbench.store.queries import vote_pairs

    bundle = read_bundle(path)
    prompts = {pid: p for pid, p in bundle.prompts.items()
               if (tag is None or tag in (p.get("tags") or ()))
               and (session_id is None or p.get("session_id") == session_id)}
    names = {a["id"]: a["model_name"] for a in bundle.answers}
    battles = []
    for vote in bundle.votes:
        created = vote.get("created_at") or ""
        if (vote.get("retracted_at") or vote["prompt_id"] not in prompts or (blind_only and not vote.get("blind"))
                or (since and created < since) or (until and created >= until)):
            continue
        ids = [i for i in vote["response_ids"] if i in names]
        dated = _date(prompts[vote["prompt_id"]].get("created"))
        battles += [Battle(*pair, created=dated) for pair in vote_pairs(vote.get("outcome"),
                                                                        vote.get("winner_response_id"), ids, names)]
    return battles, pass_rates(bundle, set(prompts)), cutoffs(bundle)


def cutoffs(bundle: Bundle) -> dict[str, str]:
    """Each model's cutoff as its answers in the bundle recorded it (for `--fresh`; a config's cutoff wins)."""
    from workbench.prompts import cutoff_end

    out: dict[str, str] = {}
    for answer in bundle.answers:
        cutoff = answer.get("cutoff")
        if isinstance(cutoff, str) and isinstance(answer.get("model_name"), str):
            try:
                cutoff_end(cutoff)
            except ValueError:
                continue  # a hostile or broken date is no cutoff
            out.setdefault(answer["model_name"], cutoff)
    return out


def _date(value):
    """A prompt's `created` (ISO date) from a bundle, or None."""
    import datetime as dt

    try:
        return dt.date.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None


def pass_rates(bundle: Bundle, prompt_ids: set[int]) -> dict[str, dict]:
    """Per model: answers whose code was run against tests, and how many passed (as the log's `pass_rates`)."""
    out: dict[str, dict] = {}
    for answer in bundle.answers:
        check = answer.get("verification")
        if answer["prompt_id"] not in prompt_ids or not isinstance(check, dict):
            continue
        outcome = check.get("outcome")
        if not (isinstance(check.get("total"), int) and check["total"] > 0) and \
                outcome not in ("pass", "fail", "error", "timeout", "no-code"):
            continue
        row = out.setdefault(answer["model_name"], {"run": 0, "passed": 0})
        row["run"] += 1
        row["passed"] += outcome == "pass"
    for row in out.values():
        row["pass_rate"] = round(row["passed"] / row["run"], 4)
    return out
