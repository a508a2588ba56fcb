"""The one natural sort of ids, shared by the registry (``bench list``, sweep order), the tuner
and every report table.

Two rules used to live side by side and disagreed on ids such as ``lr=1e-05`` against
``lr=0.0001`` and on hyphens inside names. The published tables under ``results/`` were ordered
by the report's rule, so that is the rule kept here: changing it would reorder tables that are
already out in the world.
"""

from __future__ import annotations

import re
from typing import Any

#: A number is a run of digits with an optional fraction; a minus sign belongs to it only right
#: after ``=``, ``[`` or ``,`` (a parameter value such as ``snr_db=-10``), never inside a name
#: (``gelu-mlp2``). Exponents are not read: ``1e-05`` is the number 1, then ``e-``, then 5.
_NUMBER = re.compile(r"((?<=[=\[,])-?\d+(?:\.\d+)?|\d+(?:\.\d+)?)")


def natural_key(text: str) -> list[Any]:
    """Sort key that puts ``tone[cycles=3]`` before ``tone[cycles=10]`` and ``snr_db=-10``
    before ``snr_db=0``: the numbers inside a string compare by value, the rest as text.

    The split keeps empty text pieces, so text and numbers alternate at fixed positions and
    two keys always compare piece for piece of the same kind.
    """
    parts = _NUMBER.split(text)
    return [(0, float(p), "") if i % 2 else (1, 0.0, p) for i, p in enumerate(parts)]
