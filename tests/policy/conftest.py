"""Policy-test setup: Hypothesis keeps its caches outside the repository.

Hypothesis writes example databases and caches under ``.hypothesis`` in the working directory
(from the first ``@given`` on, at import time), and its pytest plugin then warns about that
directory on every later collection, which ``filterwarnings = error`` turns into a failure. So
its storage goes to a fixed directory under the system temp dir, set before any test module of
this package is imported; the directory is only a cache and may be deleted at any time.
"""

from __future__ import annotations

import os
import pathlib
import tempfile

os.environ.setdefault(
    "HYPOTHESIS_STORAGE_DIRECTORY", str(pathlib.Path(tempfile.gettempdir()) / "grantwarden-hypothesis")
)
