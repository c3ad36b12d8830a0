"""The directory prometheus_client's multiprocess mode keeps each worker's metrics in.

Kept apart from `metrics.py` on purpose: prometheus_client decides at import time whether it runs in
multiprocess mode, so the server's main process must set the variable before anything imports it
(granian forks its workers from that process)."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

MULTIPROC_DIR_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"


@contextmanager
def metrics_directory() -> Iterator[Path]:
    """For the server's lifetime, PROMETHEUS_MULTIPROC_DIR names an empty directory: the operator's
    (emptied of a previous run's files, which would otherwise be added in) or a temporary one that is
    removed at exit."""
    given = os.environ.get(MULTIPROC_DIR_VARIABLE)
    if given:
        path = Path(given)
        path.mkdir(parents=True, exist_ok=True)
        for stale in path.glob("*.db"):
            stale.unlink(missing_ok=True)
        yield path
        return
    path = Path(tempfile.mkdtemp(prefix="voxtral-gateway-metrics-"))
    os.environ[MULTIPROC_DIR_VARIABLE] = str(path)
    try:
        yield path
    finally:
        os.environ.pop(MULTIPROC_DIR_VARIABLE, None)
        shutil.rmtree(path, ignore_errors=True)
