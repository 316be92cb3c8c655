"""Make the stages import this checkout's library (src/), never another installed copy.

DVC runs queued experiments in temporary copies of the repository; with an editable install, the
library would otherwise come from the main workspace, as it is when the experiment starts.
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
