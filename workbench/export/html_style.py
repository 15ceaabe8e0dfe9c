"""The report's stylesheet: written once in the document's head, shared by every prompt."""

from __future__ import annotations

from workbench.export.answer_html import pygments_css

BASE = """
:root{--fg:#1f2328;--muted:#656d76;--line:#d0d7de;--bg:#fff;--panel:#f6f8fa;--accent:#0969da;--good:#1a7f37;--bad:#cf222e}
*{box-sizing:border-box}
body{margin:0;padding:1rem 1.5rem 3rem;font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;
 color:var(--fg);background:var(--bg)}
h1{font-size:1.5rem;margin:.2rem 0}
h2{font-size:1.2rem;margin:1.6rem 0 .5rem}
.meta,.fp,.when,.params{color:var(--muted);font-size:.85rem}
.stale{color:var(--bad);font-size:.85rem}
table{border-collapse:collapse;font-size:.9rem;margin:.4rem 0}
th,td{border:1px solid var(--line);padding:.25rem .55rem;text-align:left;vertical-align:top}
th{background:var(--panel)}
.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
nav ol{columns:2 30rem;font-size:.88rem;margin:.3rem 0}
nav li{break-inside:avoid}
a{color:var(--accent)}
h2.session{border-bottom:2px solid var(--line);padding-bottom:.2rem}
details.prompt{border:1px solid var(--line);border-radius:6px;margin:.45rem 0}
details.prompt>summary{cursor:pointer;padding:.4rem .7rem;background:var(--panel);border-radius:6px}
details.prompt[open]>summary{border-bottom:1px solid var(--line);border-radius:6px 6px 0 0}
details.prompt:target>summary{outline:2px solid var(--accent)}
summary .pid{font-weight:600;margin-right:.4rem}
summary .meta{margin-left:.5rem}
.pbody{padding:.7rem}
.ptext{background:var(--panel);border-left:3px solid var(--accent);padding:.05rem .9rem;margin:.3rem 0 .6rem;
 overflow-wrap:anywhere}
pre.system{white-space:pre-wrap;margin:.3rem 0}
details.parity{margin:.6rem 0}
details.parity>summary,details.received>summary{cursor:pointer;color:var(--muted);font-size:.9rem}
tr.differs td,tr.differs th{background:#fff8c5;font-weight:600}
details.received pre{white-space:pre-wrap;overflow-wrap:anywhere;background:var(--panel);padding:.4rem .6rem;
 max-height:24rem;overflow:auto;font-size:.85rem}
.answers{display:grid;grid-auto-flow:column;grid-auto-columns:minmax(20rem,1fr);gap:.8rem;overflow-x:auto;
 align-items:start;padding-bottom:.3rem}
.answer{border:1px solid var(--line);border-radius:6px;min-width:0}
.answer>header{background:var(--panel);padding:.4rem .6rem;border-bottom:1px solid var(--line);border-radius:6px 6px 0 0}
.answer.won{border-color:var(--good);box-shadow:0 0 0 1px var(--good)}
.answer.failed{border-color:var(--bad)}
.label{display:inline-block;min-width:1.5em;text-align:center;font-weight:700;color:var(--bg);background:var(--fg);
 border-radius:4px;padding:0 .3em;margin-right:.3rem}
.model{font-weight:600}
.badge{color:var(--good);font-weight:600;margin-left:.4rem}
.figs{font-size:.85rem;font-variant-numeric:tabular-nums}
.s-complete{color:var(--good)}.s-failed,.s-interrupted{color:var(--bad)}.s-cancelled{color:var(--muted)}.s-stopped\\:{color:var(--warn,#b58900)}
.error{color:var(--bad);padding:.4rem .7rem;white-space:pre-wrap;overflow-wrap:anywhere;border-bottom:1px solid var(--line)}
.md{padding:0 .8rem;overflow-wrap:anywhere}
.md pre{overflow-x:auto;padding:.6rem .7rem;border-radius:4px;font-size:.85rem;line-height:1.4;overflow-wrap:normal}
code{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}
.md :not(pre)>code{background:var(--panel);padding:0 .25em;border-radius:3px}
.md table{display:block;overflow-x:auto}
.url{color:var(--muted);font-size:.85em}
.empty{color:var(--muted);font-style:italic;padding:0 .8rem}
ol.votes{margin:.6rem 0 0;padding-left:1.4rem;font-size:.9rem}
figure.anim{margin:.5rem .8rem;text-align:center}
figure.anim img{max-width:100%;height:auto;image-rendering:pixelated;background:#000;border-radius:4px}
figure.anim figcaption{color:var(--muted);font-size:.85rem}
""".strip()


def stylesheet() -> str:
    """The whole stylesheet: the report's own rules and one Pygments style."""
    return BASE + "\n" + pygments_css()
