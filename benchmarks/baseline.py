"""An earlier commit of fastsdm, importable beside the current one.

``load(rev)`` extracts ``fastsdm/`` at git revision ``rev`` into a temporary
directory as the package ``fastsdm_baseline`` (absolute ``fastsdm.`` imports
in its sources rewritten) and imports it, so that a benchmark can time the
same call of both versions alternately in one process: paired ratios, far
steadier on a shared machine than medians taken minutes apart.  Its numba
cache entries have their own names (the module names differ).
"""

from __future__ import annotations

import atexit
import importlib
import io
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
NAME = "fastsdm_baseline"


def load(rev: str, repo: Path = REPO):
    """Import ``fastsdm`` as it was at ``rev`` (a commit, tag or branch) as ``fastsdm_baseline``."""
    commit = subprocess.run(["git", "-C", str(repo), "rev-parse", "--short", rev], check=True,
                            capture_output=True, text=True).stdout.strip()
    archive = subprocess.run(["git", "-C", str(repo), "archive", "--format=tar", commit,
                              "fastsdm"], check=True, capture_output=True).stdout
    root = Path(tempfile.mkdtemp(prefix="fastsdm-baseline-"))
    atexit.register(shutil.rmtree, root, ignore_errors=True)
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(root, filter="data")
    package = root / NAME
    (root / "fastsdm").rename(package)
    for path in package.rglob("*.py"):
        text = path.read_text()
        new = re.sub(r"\bfrom fastsdm([. ])", rf"from {NAME}\1", text)
        new = re.sub(r"\bimport fastsdm\b", f"import {NAME} as fastsdm", new)
        if new != text:
            path.write_text(new)
    sys.path.insert(0, str(root))
    try:
        module = importlib.import_module(NAME)
    finally:
        sys.path.remove(str(root))
    module.BASELINE_COMMIT = commit
    return module
