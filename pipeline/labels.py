"""Label values shared by the data and the models (the bottom layer, like the registry)."""
from __future__ import annotations

import numpy as np

VOID = 255  # DAVIS's void / "don't care" pixels; also outside-the-frame crop padding


def object_ids(mask: np.ndarray) -> list[int]:
    """The object ids (or classes) that an id map holds, ascending: neither background (0)
    nor void."""
    return [int(k) for k in np.unique(mask) if k not in (0, VOID)]
