"""Put the repository root on ``sys.path`` so that ``import bench`` finds the harness.

``pytest`` run as a script does not add the working directory, and without it ``bench`` would
resolve to this folder as a namespace package.
"""

import sys
from pathlib import Path

REPO_ROOT = str(Path(__file__).resolve().parents[2])
if REPO_ROOT not in sys.path:
    sys.path.insert(0, REPO_ROOT)
