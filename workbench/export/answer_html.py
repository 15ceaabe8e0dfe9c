"""Model Markdown to safe HTML: markdown-it-py with raw HTML off, code highlighted by Pygments.

Nothing a model writes becomes markup of its own: raw HTML is escaped as text, links are shown
as text with their address beside them (never a live `href`), and images as their alt text and
address (never a `src`), so opening the report fetches nothing and runs nothing.
"""

from __future__ import annotations

from functools import lru_cache
from html import escape

from markdown_it import MarkdownIt
from pygments.formatters import HtmlFormatter
from pygments.lexers import get_lexer_by_name
from pygments.token import STANDARD_TYPES, Text, Whitespace
from pygments.util import ClassNotFound

STYLE = "friendly"
CSS_SCOPE = ".highlight"
MAX_HIGHLIGHT_CHARS = 200_000  # a block longer than this is shown escaped but plain


@lru_cache(maxsize=1)
def _styled() -> frozenset[str]:
    """The Pygments classes that the style gives a look; a token of any other class needs no <span>."""
    return frozenset(HtmlFormatter(style=STYLE).class2style)


def pygments_css() -> str:
    """The CSS for the highlighted code, once per document."""
    return HtmlFormatter(style=STYLE).get_style_defs(CSS_SCOPE)


@lru_cache(maxsize=512)
def _css_class(ttype) -> str:
    if ttype in (Text, Whitespace):
        return ""
    while ttype not in STANDARD_TYPES:
        ttype = ttype.parent
    cls = STANDARD_TYPES[ttype]
    return cls if cls in _styled() else ""


def _spans(code: str, lexer) -> str:
    """Highlighted code: like Pygments' HtmlFormatter(nowrap=True), with the same classes, but a <span>
    only where the style shows one (plain names, punctuation and spaces go bare): under half the bytes."""
    out: list[str] = []
    current = ""
    run: list[str] = []
    for ttype, value in lexer.get_tokens(code):
        cls = _css_class(ttype)
        if cls != current and run:
            text = escape("".join(run), quote=False)
            out.append(f'<span class="{current}">{text}</span>' if current else text)
            run = []
        current = cls
        run.append(value)
    if run:
        text = escape("".join(run), quote=False)
        out.append(f'<span class="{current}">{text}</span>' if current else text)
    return "".join(out)


@lru_cache(maxsize=128)
def _lexer(lang: str):
    try:
        return get_lexer_by_name(lang, stripnl=False, ensurenl=False)
    except ClassNotFound:
        return None


def _highlight(code: str, lang: str, _attrs) -> str:
    """markdown-it's highlight hook: a whole <pre> block (so markdown-it adds no wrapper of its own)."""
    lexer = _lexer(lang.lower()) if lang else None
    css_lang = f' data-lang="{escape(lang)}"' if lang else ""
    if lexer is None or len(code) > MAX_HIGHLIGHT_CHARS:
        return f'<pre class="highlight"{css_lang}><code>{escape(code, quote=False)}</code></pre>\n'
    return f'<pre class="highlight"{css_lang}><code>{_spans(code, lexer)}</code></pre>\n'


def _link_open(self, tokens, idx, options, env) -> str:
    env.setdefault("links", []).append((tokens[idx].attrGet("href") or "", idx))
    return '<span class="link">'


def _link_close(self, tokens, idx, options, env) -> str:
    href, start = env["links"].pop() if env.get("links") else ("", idx)
    shown = "".join(t.content for t in tokens[start + 1: idx] if t.type in ("text", "code_inline"))
    if not href or shown.strip() == href:  # an autolink already shows its address
        return "</span>"
    return f'</span> <span class="url">({escape(href)})</span>'


def _image(self, tokens, idx, options, env) -> str:
    token = tokens[idx]
    alt = self.renderInlineAsText(token.children or [], options, env)
    src = token.attrGet("src") or ""
    return f'<span class="image">[image: {escape(alt)}] <span class="url">({escape(src)})</span></span>'


@lru_cache(maxsize=1)
def _renderer() -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": False, "highlight": _highlight}).enable(["table", "strikethrough"])
    md.add_render_rule("link_open", _link_open)
    md.add_render_rule("link_close", _link_close)
    md.add_render_rule("image", _image)
    return md


def render(text: str | None) -> str:
    """One answer (or prompt) as HTML that is safe to put in the report."""
    return _renderer().render(text or "")


def render_many(texts: list[str | None]) -> list[str]:
    """Several at once: the unit of work a rendering process is given."""
    md = _renderer()
    return [md.render(t or "") for t in texts]
