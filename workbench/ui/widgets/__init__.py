"""Widgets: they render what they are given and post messages; they never do I/O."""
