"""What a hosted answer cost, from litellm's bundled price map (never fetched): figures, `run`, --json, exports.

The answers come from the loopback fake server (tests/servers.py, mode `ok`: 3 prompt and 3 completion
tokens reported in its usage chunk) under a model name the price map knows.
"""

from __future__ import annotations

import csv
import io
import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from servers import KEY_ENV
from workbench.cli import main
from workbench.config import ModelSpec
from workbench.core import Answer, Comparison, Request
from workbench.engines.remote import RemoteEngine, import_litellm, price
from workbench.figures import money, summary

USAGE = (3, 3)  # what the `ok` mode reports: prompt tokens, completion tokens


def map_price(name: str) -> tuple[float, float]:
    info = import_litellm().model_cost[name]
    return info["input_cost_per_token"], info["output_cost_per_token"]


def expected_cost() -> float:
    cost_in, cost_out = map_price("gpt-4o-mini")
    return USAGE[0] * cost_in + USAGE[1] * cost_out


def ask(api_base: str, model: str) -> Answer:
    engine = RemoteEngine(ModelSpec(name="hosted", engine="litellm", model=model, api_base=api_base,
                                    api_key_env=KEY_ENV, timeout=10))
    comparison = Comparison([engine], Request("hi", max_tokens=8))
    comparison.start()
    assert comparison.wait(30)
    return comparison.answers[0]


def test_price_comes_from_the_local_map_only() -> None:
    litellm = import_litellm()
    assert os.environ["LITELLM_LOCAL_MODEL_COST_MAP"] == "True"  # the map in the package, never the network
    assert price(litellm, "openai/gpt-4o-mini") == map_price("gpt-4o-mini")
    assert price(litellm, "gpt-4o-mini") == map_price("gpt-4o-mini")
    assert price(litellm, "openai/smollm2") is None  # unknown: no price at all, not $0
    assert price(litellm, "ollama/llama3") is None  # listed at 0 (it runs locally): nothing to show
    assert price(litellm, "sample_spec") is None  # the map's own template entry
    assert price(litellm, "groq/gpt-4o-mini") is None  # another provider's model of that name: not its price
    assert price(litellm, None) is None and price(litellm, "") is None


def test_a_hosted_answer_costs_prompt_times_input_plus_completion_times_output(faulty_server, api_key) -> None:
    answer = ask(faulty_server.api_base("ok"), "openai/gpt-4o-mini")
    assert answer.status == "complete", answer.error
    assert (answer.prompt_tokens, answer.completion_tokens) == USAGE
    assert answer.cost_usd == pytest.approx(expected_cost(), rel=1e-12)
    assert answer.as_dict()["cost_usd"] == pytest.approx(expected_cost(), rel=1e-12)
    assert summary(answer).endswith(f" · {money(expected_cost())}")


def test_an_unknown_price_shows_nothing(faulty_server, api_key) -> None:
    answer = ask(faulty_server.api_base("ok"), "openai/smollm2")
    assert answer.status == "complete", answer.error
    assert answer.cost_usd is None and answer.as_dict()["cost_usd"] is None
    assert "$" not in summary(answer)


def test_money() -> None:
    assert money(1.2345) == "$1.23"
    assert money(0.0123) == "$0.012"
    assert money(0.0012) == "$0.0012"
    assert money(0.00123456) == "$0.0012"
    assert money(2.25e-06) == "$0.0000023" or money(2.25e-06) == "$0.0000022"
    assert money(0.0) == "$0"


def _hosted_config(home: Path, api_base: str, model: str = "openai/gpt-4o-mini") -> None:
    (home / "config.toml").write_text(
        f'[[models]]\nname = "mini"\nengine = "litellm"\nmodel = "{model}"\n'
        f'api_base = "{api_base}"\napi_key_env = "{KEY_ENV}"\ntimeout = 10\n')


def test_run_json_plain_and_exports_carry_the_cost(workbench_home: Path, tmp_path: Path, faulty_server,
                                                  api_key) -> None:
    _hosted_config(workbench_home, faulty_server.api_base("ok"))
    db = str(tmp_path / "log.db")
    runner = CliRunner()
    result = runner.invoke(main, ["run", "hi", "-m", "mini", "--json", "--db", db], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    (record,) = json.loads(result.stdout)
    assert record["cost_usd"] == pytest.approx(expected_cost(), rel=1e-12)

    result = runner.invoke(main, ["run", "hi", "-m", "mini", "--db", db], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    header = result.stdout.splitlines()[0]
    assert header.endswith(f" · {money(expected_cost())}"), header

    result = runner.invoke(main, ["export", "--format", "jsonl", "--db", db], catch_exceptions=False)
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["cost_usd"] for r in rows] == [pytest.approx(expected_cost(), rel=1e-12)] * 2
    result = runner.invoke(main, ["export", "--format", "csv", "--db", db], catch_exceptions=False)
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert [float(r["cost_usd"]) for r in rows] == [pytest.approx(expected_cost(), rel=1e-12)] * 2


def test_a_local_answer_has_no_cost(tmp_path: Path) -> None:
    db = str(tmp_path / "log.db")
    result = CliRunner().invoke(main, ["run", "hi", "-m", "smollm2", "--max-tokens", "4", "--json", "--db", db],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    (record,) = json.loads(result.stdout)
    assert record["cost_usd"] is None
    result = CliRunner().invoke(main, ["run", "hi", "-m", "smollm2", "--max-tokens", "4", "--db", db],
                                catch_exceptions=False)
    assert "$" not in result.stdout.splitlines()[0]
    result = CliRunner().invoke(main, ["export", "--format", "csv", "--db", db], catch_exceptions=False)
    assert [r["cost_usd"] for r in csv.DictReader(io.StringIO(result.stdout))] == ["", ""]


def test_a_batch_summary_adds_up_the_cost_per_model(workbench_home: Path, tmp_path: Path, faulty_server,
                                                   api_key) -> None:
    _hosted_config(workbench_home, faulty_server.api_base("ok"))
    result = CliRunner().invoke(main, ["run", "hi", "-m", "mini", "--repeat", "2", "--db", str(tmp_path / "l.db")],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    header, row = result.stdout.splitlines()[:2]
    assert header.split()[-1] == "cost", header
    assert row.split()[-1] == money(2 * expected_cost()), row
