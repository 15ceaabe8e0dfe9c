"""Evidence anyone can re-run: a session's prompts, requests, models, answers and votes in one file.

`workbench bundle` writes one zip (`build.py`): a `manifest.json` with the prompts (and their tests),
the models' fingerprints and chat templates, the votes, the software versions and the settings a
re-run needs, and one `answers/<id>.json` per answer with exactly what that model was sent (its
conversation history included), what it answered and its figures. Keys, private hosts and the
environment's values are cut out before anything is written.

`workbench replay` reads a bundle as the hostile file it may be (`format.py`: bounded, member names
checked, nothing extracted to disk, every field type-checked) and re-runs what it can (`replay.py`).
`workbench leaderboard --bundle` ranks a bundle's votes (`votes.py`).

Nothing heavy is imported here: `workbench --help` stays light.
"""

from __future__ import annotations

from workbench.bundle.format import FORMAT, VERSION, Bundle, BundleError, read_bundle

__all__ = ["FORMAT", "VERSION", "Bundle", "BundleError", "read_bundle"]
