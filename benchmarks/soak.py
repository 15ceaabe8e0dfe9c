"""Soak: a long hosted batch through a misbehaving server, killed three times and resumed each time.

2,000 answers (500 prompts × --repeat 4, --parallel 4) go to one hosted model through litellm and
the fault server of tests/servers.py on 127.0.0.1 in its `mixed` mode (about 1 request in 20
gets a fault: 429, 500, a dropped stream, an error event, a key echoed in a 400, absurd usage,
an HTML page). `workbench run` is killed with SIGKILL at three random moments; after each kill,
and at the end, `workbench run --resume 1` carries on. Then the log is checked:

- every (prompt, repeat) has exactly one `complete` answer, or only `failed` ones (a fault it
  could not get past; a resume asks those again) — never two complete answers for one slot;
- `PRAGMA integrity_check` is ok, no row is left `streaming`, no key is in the log;
- the RSS of the last (uninterrupted) run, sampled every 0.2 s, stays flat;
- no `workbench-*` file is left in the temporary folder.

Prints one JSON object and one line of prose. `--quick`: 40 answers, one kill.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))

from servers import FAKE_KEY, KEY_ENV, FaultyServer  # noqa: E402


def rss_mb(pid: int) -> float | None:
    """Resident memory of a process, in MiB (None once it is gone)."""
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def run(cmd: list[str], env: dict, kill_after: float | None, samples: list[float] | None) -> int:
    """Run `cmd`; SIGKILL it after `kill_after` seconds (if still running); returns its exit status."""
    # Progress lines go to a file: a pipe nobody reads fills up and stops the run (seen: it hung).
    errors = tempfile.TemporaryFile(mode="w+")
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=errors, text=True)
    started = time.monotonic()
    while proc.poll() is None:
        if kill_after is not None and time.monotonic() - started >= kill_after:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            return -9
        if samples is not None and (mb := rss_mb(proc.pid)) is not None:
            samples.append(mb)
        time.sleep(0.2)
    if proc.returncode not in (0, 1):
        errors.seek(0)
        sys.stderr.write(errors.read()[-2000:])
    errors.close()
    return proc.returncode


def check(log: Path) -> dict:
    """What the log says after the last resume."""
    conn = sqlite3.connect(log)
    try:
        slots = conn.execute(
            "SELECT p.prompt_key, p.repeat, sum(r.status = 'complete'), count(*) FROM responses r "
            "JOIN prompts p ON p.id = r.prompt_id GROUP BY p.prompt_key, p.repeat").fetchall()
        statuses = dict(conn.execute("SELECT status, count(*) FROM responses GROUP BY status").fetchall())
        text = "\n".join(repr(r) for r in conn.execute("SELECT text, error FROM responses"))
        return {
            "slots": len(slots),
            "slots_complete_once": sum(c == 1 for _k, _r, c, _n in slots),
            "slots_complete_twice_or_more": sum(c > 1 for _k, _r, c, _n in slots),
            "slots_failed_only": sum(c == 0 for _k, _r, c, _n in slots),
            "rows": sum(statuses.values()),
            "statuses": statuses,
            "integrity": conn.execute("PRAGMA integrity_check").fetchone()[0],
            "key_in_log": FAKE_KEY in text,
        }
    finally:
        conn.close()


def main() -> None:
    """Run the soak and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="40 answers and one kill (a smoke run)")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    prompts, repeat, kills = (10, 4, 1) if args.quick else (500, 4, 3)
    rng = random.Random(args.seed)
    tmp = Path(tempfile.mkdtemp(prefix="wb-soak-"))
    before_tmp = {p.name for p in Path(tempfile.gettempdir()).glob("workbench-*")}
    with FaultyServer() as server:
        home = tmp / "home"
        home.mkdir()
        (home / "config.toml").write_text(
            f'[[models]]\nname = "soak"\nengine = "litellm"\nmodel = "openai/fake-model"\n'
            f'api_base = "{server.api_base("mixed")}"\napi_key_env = "{KEY_ENV}"\ntimeout = 10\nmax_parallel = 4\n',
            encoding="utf-8")
        env = {**os.environ, "WORKBENCH_HOME": str(home), KEY_ENV: FAKE_KEY}
        log = tmp / "log.db"
        workbench = [sys.executable, "-m", "workbench"]
        first = workbench + ["run", *[f"soak prompt {i}" for i in range(prompts)], "-m", "soak",
                             "--repeat", str(repeat), "--parallel", "4", "--max-tokens", "16", "--db", str(log)]
        resume = workbench + ["run", "--resume", "1", "--db", str(log)]
        started = time.monotonic()
        exits = [run(first, env, rng.uniform(4, 12) if kills else None, None)]
        for _ in range(kills - 1):
            exits.append(run(resume, env, rng.uniform(4, 12), None))
        samples: list[float] = []
        resumes = 0
        while True:  # resume until nothing is missing (a fault can fail an answer again)
            exits.append(run(resume, env, None, samples))
            resumes += 1
            state = check(log)
            if state["slots_failed_only"] == 0 or resumes >= 5:
                break
        elapsed = time.monotonic() - started
    left = sorted({p.name for p in Path(tempfile.gettempdir()).glob("workbench-*")} - before_tmp)
    tail = samples[len(samples) // 10:] or samples
    result = {
        "benchmark": "soak", "answers": prompts * repeat, "kills": kills, "exits": exits, "final_resumes": resumes,
        "seconds": round(elapsed, 1), **state,
        "rss_mb_last_run": {"first": round(tail[0], 1) if tail else None, "max": round(max(tail), 1) if tail else None,
                            "last": round(tail[-1], 1) if tail else None, "samples": len(samples)},
        "files_left_in_tmp": left,
    }
    print(json.dumps(result))
    ok = (state["slots_complete_twice_or_more"] == 0 and state["integrity"] == "ok" and not state["key_in_log"]
          and not state["statuses"].get("streaming") and not left)
    print(f"soak: {prompts * repeat} answers, {kills} kill(s): {state['slots_complete_once']}/{state['slots']} "
          f"slots complete exactly once, {state['slots_complete_twice_or_more']} twice, integrity "
          f"{state['integrity']}, {'no' if not left else len(left)} files left — {'ok' if ok else 'NOT OK'}")


if __name__ == "__main__":
    main()
