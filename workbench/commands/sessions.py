"""`workbench sessions`: the sessions in the log, newest first."""

from __future__ import annotations

import json

import click

from workbench.redact import terminal_safe

from workbench.commands.common import db_option, load_settings_or_fail, reading_log


@click.command("sessions")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list.")
@db_option
@click.pass_obj
def sessions_cmd(obj: dict, as_json: bool, db: str | None) -> None:
    """List the sessions in the log, newest first."""
    from workbench.store.queries import sessions

    settings = load_settings_or_fail(obj["config"], db or obj["db"])
    with reading_log(settings.db_path) as log:
        rows = sessions(log)
    if as_json:
        click.echo(json.dumps(rows, indent=2, ensure_ascii=False))
        return
    if not rows:
        click.echo(f"No sessions yet in {settings.db_path}.")
        return
    for s in rows:
        first = (s["first_prompt"] or "").strip().splitlines()[0][:60] if s["first_prompt"] else ""
        name = f" {s['name']!r}" if s["name"] else ""
        click.echo(terminal_safe(f"#{s['id']}{name} {s['started_at'][:19].replace('T', ' ')} {s['source']:<3}  "
                   f"{s['prompts']} prompt{'s' if s['prompts'] != 1 else ''}, {s['answers']} answers, "
                   f"{s['votes']} votes  [{', '.join(s['models'])}]  {first}"))
