"""workbench: compare language models side by side on your own prompts."""

__version__ = "0.1.0"
