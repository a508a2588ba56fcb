"""The built-in plugins. In the repository they live in the top-level ``methods/`` and
``tasks/`` folders; the wheel ships them here, as ``bench.builtin.methods`` and
``bench.builtin.tasks``, so that nothing is installed under a generic top-level name.

When ``bench`` is imported from a source checkout rather than from an installed copy (for
example ``python -m bench`` run inside the repository after a non-editable install), those two
folders sit at the checkout's top level instead: this package then looks for them there.
"""

from pathlib import Path

_here = Path(__file__).resolve().parent
_checkout = _here.parent.parent
if not (_here / "methods").is_dir() and (_checkout / "pyproject.toml").is_file():
    __path__.append(str(_checkout))
