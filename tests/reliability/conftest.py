"""Reliability-test setup: Hypothesis keeps its caches outside the repository.

The fuzzing modules here run Hypothesis with ``database=None``, but Hypothesis still creates
its storage directory (``.hypothesis`` in the working directory) at import time, and its pytest
plugin then warns about that directory on later collections, which ``filterwarnings = error``
turns into a failure. So its storage goes to a fixed directory under the system temp dir, set
before any test module of this package is imported, as tests/policy/conftest.py does.
"""

from __future__ import annotations

import os
import pathlib
import tempfile

os.environ.setdefault(
    "HYPOTHESIS_STORAGE_DIRECTORY", str(pathlib.Path(tempfile.gettempdir()) / "grantwarden-hypothesis")
)
