"""Themes shipped as TOML files in `themes/`, validated and turned into Textual themes."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

from pygments.styles import get_all_styles
from textual.color import Color
from textual.theme import Theme

_COLOURS = ("primary", "secondary", "accent", "warning", "error", "success",
            "foreground", "background", "surface", "panel")
_KEYS = {"name", "dark", "code_style", *_COLOURS}


class ThemeError(Exception):
    """A theme that cannot be used, in one line naming the file or the theme."""


@dataclass(frozen=True)
class ThemeFile:
    """A Textual theme plus the Pygments style used for code under it."""

    theme: Theme
    code_style: str
    path: Path
    accent: str = "#5FAFFF"
    """The primary colour as #rrggbb, for rich styles (headings, bullets) in answers."""


def themes_dir() -> Path:
    """`themes/` beside the package (a checkout) or inside it (an installed wheel)."""
    here = Path(__file__).resolve().parent.parent
    installed = here / "_themes"
    return installed if installed.is_dir() else here.parent / "themes"


def load_theme(path: Path) -> ThemeFile:
    """Read and validate one theme file."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ThemeError(f"{path}: cannot read theme: {exc}") from None
    unknown = set(data) - _KEYS
    if unknown:
        raise ThemeError(f"{path}: unknown key '{sorted(unknown)[0]}'")
    if not isinstance(data.get("name"), str) or not isinstance(data.get("primary"), str):
        raise ThemeError(f"{path}: 'name' and 'primary' are required strings")
    code_style = data.get("code_style", "monokai")
    if code_style not in set(get_all_styles()):
        raise ThemeError(f"{path}: unknown code_style '{code_style}' (a Pygments style name)")
    colours = {k: data[k] for k in _COLOURS if k in data}
    try:
        theme = Theme(name=data["name"], dark=bool(data.get("dark", True)), **colours)
        theme.to_color_system()  # parses every colour now, not at first paint
        accent = Color.parse(data["primary"]).hex6
    except Exception as exc:  # noqa: BLE001 - Textual raises several kinds for a bad colour
        raise ThemeError(f"{path}: bad colour: {exc}") from None
    return ThemeFile(theme, code_style, path, accent)


def load_themes(folder: Path | None = None) -> dict[str, ThemeFile]:
    """Every theme in the folder, by name."""
    folder = folder or themes_dir()
    out: dict[str, ThemeFile] = {}
    for path in sorted(folder.glob("*.toml")):
        tf = load_theme(path)
        out[tf.theme.name] = tf
    return out
