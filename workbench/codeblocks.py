"""The code in an answer, fenced or not: one function, `code_blocks(text)`, for whatever needs it.

Small models often answer with bare code (no ``` fence), which a Markdown renderer shows as prose:
lines run together and a `# comment` becomes a heading. `code_blocks` finds the fenced blocks and,
outside them, the runs of lines that are code. The pane (workbench.ui.render, when an answer ends),
the HTML export (through `with_fences`) and verification (workbench.verify.extract) use it.

API (pure Python, no UI)::

    code_blocks(text) -> list[Block]    every block, fenced and unfenced, in the order of the text
    Block(language, code, start_line, end_line, fenced)
    with_fences(text) -> str            the text with each unfenced block put in a fence (for Markdown)
    normalize(name) -> str | None       a language name or fence tag in its canonical spelling

Lines are numbered from 0, as in `text.split("\\n")` once "\\r\\n" is "\\n". A block's code lines
are `start_line` up to, not including, `end_line`: for a fenced block the lines between its fences
(`end_line` is the closing fence's line, or the number of lines when the fence is left open); for an
unfenced block exactly the code, with no blank line at either end. `code` ends in one newline; a
fenced block's has the fence's indent taken off each line, an unfenced block's the indent its lines
share (so it can be run or copied as it is).

How unfenced code is found. The rules are meant to be conservative: an answer of prose with a
`# Title`, bullets and numbered lists stays prose; a lone `x = 5` in a sentence's place stays prose.

1. Every line outside fences gets a shape, judged on its first LINE_CHARS characters and its last one
   (for the code shapes, without a trailing `  # ...` or `  // ...` comment):
   - code: a shape prose does not have: `def f(`, `class X:`, `fn f(`, `func f(`, `function f(`,
     `import x`, `from x import y`, `#include <...>`, `#define`, `#!/...`, `package x`, `use a::b;`,
     a Python block header (`if n <= 1:`, `for x in xs:`, `else:`, `try:`, `with ... as f:`),
     C-style `if (...)`, `return`/`raise`/`yield`/`pass`/..., an assignment (`x = ...`, `a, b = ...`,
     `x += 1`, `const x = ...`), a call on its own (`print(x)`, `console.log(x);`), a decorator,
     closing brackets (`}`, `});`), `fi`/`done`/`esac`, a REPL or shell prompt (`>>> `, `$ `),
     a page's HTML tag (`<!DOCTYPE`, `<html>`, `<script>`; not `<details>` or `<br>`, which Markdown
     allows in prose), an upper-case SQL clause (`SELECT`, `FROM`, `WHERE`, ...), or a line that is not
     Markdown and ends in `{`, or ends in `;` with code punctuation in it; but not when it reads as
     English outside its strings and comments (`before = the list as given`, `return to the menu`:
     `the`, or two of `of`, `to`, `that`, `this`, `are`, `you`, `its`, ...), which makes it prose;
   - markdown (prose): a bullet (`- `, `* `, `+ `), a numbered item (`1. `, `1) `), a `##` heading,
     a quote (`> `), a table row (`|`), a line starting `**`, `__`, a link or an image, a rule;
   - comment: `# ...` (a comment or a Markdown heading: decided by what is around it), `//`,
     `/*`, `*/`, `-- `, `<!--`;
   - prose: a label ending in `:` (`Output:`, `Here is the code:`), a sentence (three words or
     more, most of them plain words), or a line that starts with a capital and holds no code
     punctuation (`Hello World`);
   - other: anything else (`x`, `end`, `hello world`).
2. A run starts at a code line; comment lines right above it (no blank line between) join it.
   It goes on through code and comment lines, lines indented deeper than its first line (but not
   a Markdown list item), lines inside a triple-quoted string, and other lines that follow the
   previous line directly; blank lines are kept between two lines of the run. It ends at a prose
   or markdown line at (or left of) the first line's indent, or at an other line after a blank line.
3. Trailing comment lines after a blank line are left out (a `# Heading` for what follows).
4. A run is a block when it holds at least 2 code lines and its code, comment and indented
   lines are at least half of its non-blank lines.
5. The language: the code lines vote by their marks (`def`, `elif`, `self.` for Python;
   `function`, `const`, `console.` for JavaScript; `#include <stdio.h>` for C; `fn`, `let mut`
   for Rust; ...); with no vote, Pygments' `analyse_text` of the lexers of the common languages
   on the first GUESS_CHARS of the block decides; else None (shown as plain code). Pygments'
   `guess_lexer` over all its ~600 lexers is not used: it named plain Python "scdoc" and a C
   program "Tera Term macro", and its first call imports every lexer (~0.2 s).

Bounded for hostile text: one pass over the lines; each line's shape is judged from its first
LINE_CHARS characters by regexes anchored at the start, without ambiguous nested repetition; a run is never
scanned twice (a rejected run is skipped as a whole); the vote reads at most VOTE_LINES code lines
of a block, and Pygments sees at most GUESS_CHARS characters of a block, for at most MAX_GUESSES
blocks of a text.
"""

from __future__ import annotations

import re
import textwrap
from dataclasses import dataclass
from functools import lru_cache

LINE_CHARS = 300
"""How much of a line its shape is judged on (a huge line costs no more than this)."""
GUESS_CHARS = 2_000
"""How much of a block Pygments' analyse_text is given."""
MAX_GUESSES = 8
"""Blocks of one text whose language Pygments may guess; the rest without a vote get None."""
VOTE_LINES = 200
"""Code lines of a block that vote for its language."""
MIN_CODE_LINES = 2

ALIASES = {"py": "python", "python3": "python", "py3": "python", "js": "javascript", "node": "javascript",
           "nodejs": "javascript", "cjs": "javascript", "mjs": "javascript", "sh": "bash", "shell": "bash",
           "zsh": "bash", "sqlite": "sql", "sqlite3": "sql", "ts": "typescript", "rs": "rust", "golang": "go"}
"""Fence tags and front-matter names that mean the same language."""


def normalize(language: str | None) -> str | None:
    """A language name or fence tag in its canonical spelling (python, javascript, bash, sql, ...)."""
    if not language:
        return None
    name = language.strip().lower()
    return ALIASES.get(name, name) or None


@dataclass(frozen=True)
class Block:
    """One block of code in a text."""

    language: str | None
    """Canonical language: a fence's tag, or the detected one for unfenced code; None when unknown."""
    code: str
    """The code, ending in one newline (see the module's docstring for the indent)."""
    start_line: int
    """First line of the code (0-based)."""
    end_line: int
    """One past the last line of the code."""
    fenced: bool
    """Whether the answer put it in a ``` or ~~~ fence."""


_FENCE = re.compile(r"^([ \t]*)(`{3,}|~{3,})[ \t]*\{?\.?([^\s`{}]*)")
_CLOSE = re.compile(r"^[ \t]*(`{3,}|~{3,})[ \t]*$")


def code_blocks(text: str) -> list[Block]:
    """Every block of code in `text`, fenced and unfenced, in order (rules: the module's docstring).

    A fence left open runs to the end of the text. Never raises for any text; time is linear in it.
    """
    lines = (text or "").replace("\r\n", "\n").split("\n")
    found: list[Block] = []
    outside = 0  # first line after the last fenced block
    guesses = [MAX_GUESSES]
    i = 0
    while i < len(lines):
        m = _FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        found += _unfenced(lines, outside, i, guesses)
        indent, fence, tag = len(m.group(1)), m.group(2), m.group(3)
        start = i = i + 1
        body: list[str] = []
        while i < len(lines):
            close = _CLOSE.match(lines[i])
            if close and close.group(1)[0] == fence[0] and len(close.group(1)) >= len(fence):
                break
            line = lines[i]
            body.append(line[min(indent, len(line) - len(line.lstrip())):])
            i += 1
        found.append(Block(normalize(tag), "\n".join(body).strip("\n") + "\n", start, i, True))
        outside = i = i + 1
    found += _unfenced(lines, outside, len(lines), guesses)
    return found


def with_fences(text: str) -> str:
    """`text` with each unfenced block of code put in a fence (tagged with its language when known),
    for a Markdown renderer; the rest is left as it is. Text without unfenced code comes back unchanged."""
    blocks = [b for b in code_blocks(text) if not b.fenced]
    if not blocks:
        return text
    lines = text.replace("\r\n", "\n").split("\n")
    out: list[str] = []
    at = 0
    for b in blocks:
        out += lines[at:b.start_line]
        longest = max((len(run) for run in re.findall(r"`+", b.code)), default=0)
        fence = "`" * max(3, longest + 1)
        out += [fence + (b.language or ""), b.code.rstrip("\n"), fence]
        at = b.end_line
    out += lines[at:]
    return "\n".join(out)


# -- the shape of a line ------------------------------------------------------------------------------

BLANK, CODE, COMMENT, MARKDOWN, PROSE, OTHER = range(6)

_NAME = r"[A-Za-z_$][\w$]*"
_CODE_SHAPES = re.compile("|".join([
    # definitions
    rf"(?:async\s+)?def\s+{_NAME}\s*\(",
    rf"class\s+{_NAME}\s*(?:\([^()]*\))?\s*:$",
    rf"(?:pub(?:\([\w:]+\))?\s+)?(?:async\s+|const\s+|unsafe\s+)*fn\s+{_NAME}\s*[(<]",
    rf"func\s+(?:\([^()]*\)\s*)?{_NAME}\s*[(\[]",
    rf"(?:export\s+(?:default\s+)?)?(?:async\s+)?function\b\s*\*?\s*[\w$]*\s*\(",
    # imports and the like
    r"import\s+[\w.]+(?:\s+as\s+\w+)?(?:\s*,\s*[\w.]+(?:\s+as\s+\w+)?)*\s*;?$",
    r"import\s+(?:[\w*{}, $]+\s+from\s+)?['\"]",
    r"import\s+(?:static\s+)?[\w.]+(?:\.\*)?\s*;$",
    r"import\s*\($",
    r"from\s+\.*[\w.]*\s+import\s+[\w*(]",
    r"#\s*include\s*[<\"]",
    r"#\s*(?:define|ifn?def|endif|pragma|undef)\b",
    r"#!\s*/",
    r"package\s+[\w.]+\s*;?$",
    r"use\s+[\w:{}*, ]+;$",
    r"using\s+(?:namespace\s+)?[\w.:]+\s*;$",
    r"(?:const\s+)?\w+\s*=\s*require\s*\(",
    # Python block headers (if/elif/while are checked in _shape)
    r"(?:else|try|finally)\s*:$",
    r"except\b[^:]{0,120}:$",
    rf"(?:async\s+)?for\s+{_NAME}(?:\s*,\s*{_NAME})*\s+in\s+\S.*:$",
    rf"(?:async\s+)?with\s+\S[^:]*(?:\)|\s+as\s+{_NAME})\s*:$",
    # C-style control
    r"(?:if|for|while|switch)\s*\(.*\)\s*\{?$",
    r"}?\s*(?:else|catch|finally|do|try)\b.*\{$",
    # statements
    r"return(?:\s|;|$)",
    r"(?:raise|yield|await|assert|del|global|nonlocal|throw)\s+\S",
    r"(?:pass|break|continue)\s*;?$",
    r"(?:echo|puts|printf)\s+\S",
    # assignments and declarations
    rf"{_NAME}(?:\.{_NAME}|\[[^\]]{{0,80}}\])*\s*(?:[-+*/%&|^]|//|\*\*|<<|>>|\?\?|:)?=(?!=)\s*\S",
    rf"{_NAME}(?:\s*,\s*{_NAME})+\s*=(?!=)\s*\S",
    rf"(?:const|let|var|val)\s+(?:mut\s+)?[\w${{\[][^=]{{0,80}}=",
    # a call on its own line
    rf"{_NAME}(?:\.{_NAME})*(?:\[[^\]]{{0,80}}\])?\(.*\)\s*;?$",
    # decorators, closing brackets, shell endings, prompts, markup, SQL
    rf"@{_NAME}(?:\.{_NAME})*(?:\(.*\))?$",
    r"[)\]}]+[;,)]*$",
    r"}\s*(?:else|catch|finally|while)\b",
    r"(?:fi|done|esac|then|do)$",
    r">>>(?:\s|$)",
    r"\$\s+\S",
    r"<(?:!DOCTYPE\b|\?xml\b|\?php\b|html\b|/html>|script\b|/script>|style\b|/style>)",
    r"(?:SELECT|INSERT\s+INTO|UPDATE|DELETE\s+FROM|CREATE\s+(?:TABLE|INDEX|VIEW|UNIQUE)|DROP\s+TABLE|"
    r"ALTER\s+TABLE|WITH\s+\w+\s+AS|FROM|WHERE|GROUP\s+BY|ORDER\s+BY|(?:LEFT\s+|INNER\s+)?JOIN|HAVING|LIMIT)\b",
]))
_PY_CONDITION = re.compile(r"(?:el)?if\s+(.*):$|while\s+(.*):$")
_MARKDOWN_LINE = re.compile(r"(?:[-*+]\s|\d{1,9}[.)](?:\s|$)|#{2,6}(?:\s|$)|>|\||\*\*|__|!\[|\[[^\]]{1,200}\]\(|"
                            r"[-=*_]{3,}$)")
_COMMENT_LINE = re.compile(r"(?:#(?![#!])|//|/\*|\*/|--\s|<!--)")
_BULLET = re.compile(r"(?:[-*+]\s|\d{1,9}[.)]\s)")
_PLAIN_WORD = re.compile(r"(?<!\S)[(\"'“]?[A-Za-z][A-Za-z'’]*(?:-[A-Za-z]+)*[)\"'”]?[.,;:!?]*[)\"'”]?(?!\S)")
_CAPITALISED = re.compile(r"[A-Z][A-Za-z0-9 ,.'’!?-]*$")
_CODE_PUNCTUATION = re.compile(r"[(\[=\"'<>]")
_QUOTED = re.compile(r"\"[^\"]*\"|(?<![A-Za-z])'[^']*'|`[^`]*`")
_TRAILING_COMMENT = re.compile(r"\s(?:#|//).*")
_TOKEN = re.compile(r"[A-Za-z_']+")
_STOPWORDS = frozenset("the of to that this which are was were your you we our its it's an be been will would should "
                       "can could has have into only also when than because there their they".split())
"""English words that code does not use as names (outside its strings and comments)."""


def _reads_as_english(s: str) -> bool:
    """Whether a line shaped like code reads as a sentence outside its strings and comments
    (`before = the tree of ...`, `return to the menu`)."""
    if s.count(" ") < 2:
        return False
    words = [w.lower() for w in _TOKEN.findall(_TRAILING_COMMENT.sub("", _QUOTED.sub(" ", s)))]
    hits = [w for w in words if w in _STOPWORDS]
    return len(hits) >= 2 or "the" in hits


def _plain_words(text: str) -> int:
    """How many of the words in `text` are plain words (letters, maybe quoted, maybe with punctuation after)."""
    return len(_PLAIN_WORD.findall(text))


def _shape(line: str) -> tuple[int, int]:
    """(shape, indent) of one line outside fences: BLANK, CODE, COMMENT, MARKDOWN, PROSE or OTHER."""
    stripped = line.strip()
    if not stripped:
        return BLANK, 0
    indent = len(line) - len(line.lstrip())
    s = stripped[:LINE_CHARS]
    code = _TRAILING_COMMENT.sub("", s).rstrip() or s  # `print(x)  # prints 3` is shaped as `print(x)`
    end = code[-1] if len(stripped) <= LINE_CHARS else stripped[-1]
    if _CODE_SHAPES.match(code):
        return (PROSE if _reads_as_english(code) else CODE), indent
    if end == ":":
        m = _PY_CONDITION.match(code)
        if m:  # `if n <= 1:`, `while not done:` are code; `if you like:` is prose
            cond = m.group(1) if m.group(1) is not None else m.group(2)
            words = cond.split()
            if (len(words) <= 2 or any(c in cond for c in "=<>!()[].%+*/")
                    or _plain_words(cond) < len(words)) and not _reads_as_english(s):
                return CODE, indent
    if _MARKDOWN_LINE.match(s):
        return MARKDOWN, indent
    if _COMMENT_LINE.match(s):
        return COMMENT, indent
    if (end == "{" or (end == ";" and _CODE_PUNCTUATION.search(code))) and not _reads_as_english(code):
        return CODE, indent
    if end == ":":
        return PROSE, indent  # a label: `Output:`, `Here is the code:`
    words = s.split()
    if len(words) >= 3 and _plain_words(s) * 5 >= len(words) * 3:
        return PROSE, indent
    if _CAPITALISED.match(s):
        return PROSE, indent
    return OTHER, indent


def _strings_toggled(line: str) -> bool:
    """Whether a line opens or closes a triple-quoted string (an odd number of them in it)."""
    return (line.count('"""') + line.count("'''")) % 2 == 1


def _unfenced(lines: list[str], lo: int, hi: int, guesses: list[int]) -> list[Block]:
    """The unfenced blocks among lines[lo:hi] (no fences in there): rules 2-5 of the module's docstring."""
    found: list[Block] = []
    shapes = [_shape(lines[i]) for i in range(lo, hi)]

    def shape(i: int) -> tuple[int, int]:
        return shapes[i - lo]

    i = lo
    done = lo  # lines before this belong to an earlier run
    while i < hi:
        kind, base = shape(i)
        if kind != CODE:
            i += 1
            continue
        start = i
        while start > done and shape(start - 1)[0] == COMMENT:
            start -= 1
        end = i + 1  # one past the last line of the run
        in_string = _strings_toggled(lines[i])
        j = i + 1
        while j < hi:
            kind, indent = shape(j)
            if kind == BLANK:
                j += 1  # kept when a later line of the run is
                continue
            if not in_string and not (
                    kind in (CODE, COMMENT)
                    or (indent > base and not _BULLET.match(lines[j].lstrip()))
                    or (kind == OTHER and end == j)):
                break
            if _strings_toggled(lines[j]):
                in_string = not in_string
            end = j + 1
            j += 1
        # Rule 3: comments after a blank line at the end of the run head what follows.
        last = end - 1
        while last > i and shape(last)[0] in (COMMENT, BLANK) and shape(last)[1] <= base:
            last -= 1
        for k in range(last + 1, end):
            if shape(k)[0] == BLANK:
                end = k
                break
        nonblank = code = codeish = 0
        for k in range(start, end):
            kind, indent = shape(k)
            if kind == BLANK:
                continue
            nonblank += 1
            code += kind == CODE
            codeish += kind in (CODE, COMMENT) or indent > base
        if code >= MIN_CODE_LINES and codeish * 2 >= nonblank:
            found.append(_block(lines, start, end, guesses))
        done = i = max(end, i + 1)
    return found


def _block(lines: list[str], start: int, end: int, guesses: list[int]) -> Block:
    code = textwrap.dedent("\n".join(lines[start:end])) + "\n"
    return Block(_language(lines, start, end, code, guesses), code, start, end, False)


# -- the language of an unfenced block ----------------------------------------------------------------

_HINTS = [(re.compile(pattern), language, weight) for pattern, language, weight in [
    (r"^(?:async\s+)?def\s+\w+\s*\(.*\)\s*(?:->.*)?:$", "python", 3),
    (r"^class\s+\w+\s*(?:\([^()]*\))?\s*:$", "python", 3),
    (r"^from\s+\S+\s+import\b", "python", 3),
    (r"^import\s+[\w.]+(?:\s+as\s+\w+)?(?:\s*,\s*[\w.]+)*$", "python", 1),
    (r"^(?:elif\b|else:|try:|except\b|finally:|with\s.*:$|for\s.*\bin\b.*:$|while\s.*:$|if\s.*:$)", "python", 1),
    (r"\bself\.|\bNone\b|\bTrue\b|\bFalse\b|^print\(|^(?:raise|pass|yield|nonlocal|del)\b", "python", 1),
    (r"^#!.*\bpython", "python", 5),
    (r"^>>>(?:\s|$)", "pycon", 5),
    (r"^(?:export\s+(?:default\s+)?)?(?:async\s+)?function\b", "javascript", 3),
    (r"^(?:const|let|var)\s", "javascript", 1),
    (r"\bconsole\.\w+\(|\bdocument\.\w+|\brequire\(|^module\.exports\b|^export\s+(?:default|const|function|class)\b",
     "javascript", 3),
    (r"=>|===|!==", "javascript", 1),
    (r"^import\s.*\sfrom\s+['\"]", "javascript", 3),
    (r"^#!.*\bnode\b", "javascript", 5),
    (r"^(?:export\s+)?interface\s+\w+|:\s*(?:string|number|boolean)\b", "typescript", 2),
    (r"^#\s*include\s*<(?:stdio|stdlib|string|math|stdbool|stdint|ctype|time|unistd|sys/\w+)\.h>", "c", 3),
    (r"\bprintf\s*\(|\bmalloc\s*\(|\bscanf\s*\(|^int\s+main\s*\(", "c", 1),
    (r"std::|\bcout\b|\bcin\b|^#\s*include\s*<\w+>$|^using\s+namespace\b|^template\s*<", "cpp", 3),
    (r"^(?:pub(?:\([\w:]+\))?\s+)?(?:async\s+)?fn\s+\w+", "rust", 3),
    (r"\blet\s+mut\b|\b\w+!\(|^use\s+\w+(?:::\w+)+|^impl\b|&str\b|\b[iu](?:8|16|32|64|size)\b", "rust", 2),
    (r"^func\s", "go", 3),
    (r"^package\s+\w+$|\bfmt\.\w+\(|:=", "go", 2),
    (r"^public\s+(?:final\s+|abstract\s+)?class\b|\bSystem\.out\.|^package\s+[\w.]+;$|^import\s+[\w.]+\*?;$",
     "java", 3),
    (r"^(?:public|private|protected)\s+(?:static\s+)?[\w<>\[\]]+\s+\w+\s*\(", "java", 2),
    (r"\bConsole\.Write|^using\s+System\b", "csharp", 3),
    (r"^#!\s*/(?:usr/)?bin/(?:env\s+)?(?:ba|z)?sh\b", "bash", 5),
    (r"^(?:echo|cd|export|source|mkdir|rm|chmod|grep|sed|awk|cat|ls|cp|mv)\s|^(?:fi|done|esac|then|do)$|"
     r";\s*(?:then|do)$|^if\s+\[", "bash", 2),
    (r"^(?:SELECT|INSERT\s+INTO|UPDATE|DELETE\s+FROM|CREATE\s+(?:TABLE|INDEX|VIEW)|DROP\s+TABLE|ALTER\s+TABLE)\b",
     "sql", 3),
    (r"^(?:FROM|WHERE|GROUP\s+BY|ORDER\s+BY|(?:LEFT\s+|INNER\s+)?JOIN|HAVING|LIMIT)\b", "sql", 1),
    (r"^puts\s|^require\s+['\"]|^end$", "ruby", 2),
    (r"^<\?php|^\$\w+\s*=.*;$", "php", 4),
    (r"^<(?:!DOCTYPE|html|head|body|div|p|span|ul|li|table|form|script|style)\b", "html", 3),
    (r"^\$\s+\S", "console", 3),
]]

_PYGMENTS_NAMES = ("python", "javascript", "typescript", "c", "cpp", "java", "go", "rust", "bash", "sql", "ruby",
                   "php", "html", "xml", "css", "lua", "perl", "kotlin", "swift", "csharp")
"""The lexers whose analyse_text decides the language of a block no line voted for."""


@lru_cache(maxsize=1)
def _pygments_lexers() -> tuple:
    from pygments.lexers import get_lexer_by_name
    from pygments.util import ClassNotFound

    found = []
    for name in _PYGMENTS_NAMES:
        try:
            found.append((name, type(get_lexer_by_name(name))))
        except ClassNotFound:
            pass
    return tuple(found)


def _pygments_guess(code: str) -> str | None:
    """The language whose Pygments lexer scores `code` highest (None when none scores)."""
    sample = code[:GUESS_CHARS]
    best, score = None, 0.0
    for name, lexer in _pygments_lexers():
        try:
            value = float(lexer.analyse_text(sample))
        except Exception:  # a lexer's own heuristic failing is no reason to fail the text
            continue
        if value > score:
            best, score = name, value
    return best


def _language(lines: list[str], start: int, end: int, code: str, guesses: list[int]) -> str | None:
    """Rule 5: the code lines' votes, else Pygments, else None."""
    votes: dict[str, float] = {}
    voters = 0
    for k in range(start, end):
        s = lines[k].strip()[:LINE_CHARS]
        if not s or _COMMENT_LINE.match(s) and not s.startswith("#!"):
            continue
        for pattern, language, weight in _HINTS:
            if pattern.search(s):
                votes[language] = votes.get(language, 0) + weight
        voters += 1
        if voters >= VOTE_LINES:
            break
    if votes:
        return max(votes.items(), key=lambda kv: kv[1])[0]
    if guesses[0] <= 0:
        return None
    guesses[0] -= 1
    return _pygments_guess(code)
