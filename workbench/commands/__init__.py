"""The `workbench` subcommands that do the work: run, export, leaderboard, check (one module each)."""
