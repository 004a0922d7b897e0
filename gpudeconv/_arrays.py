"""What kind of array is this, and a host copy of it (without importing CuPy)."""

from __future__ import annotations

import numpy as np


def is_cupy_array(a) -> bool:
    # Checked by module name so that NumPy-only machines never import CuPy.
    return type(a).__module__.split(".")[0] == "cupy"


def to_host(a) -> np.ndarray:
    """A NumPy view or copy of ``a`` wherever it lives."""
    return a.get() if is_cupy_array(a) else np.asarray(a)
