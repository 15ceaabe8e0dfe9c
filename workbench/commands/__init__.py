"""The `workbench` subcommands, one plain click command per module; workbench.cli adds them to its group."""
