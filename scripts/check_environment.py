"""Checks the installed packages as the app needs them: `pip check` clean, and exactly one OpenCV (headless).

The one complaint tolerated is mediapipe 0.10.30's: its wheel declares the tag cp39-cp39-linux_x86_64 inside
while it is published as py3-none-manylinux_2_28_x86_64, and it loads its C library through ctypes on any
Python 3, so "is not supported on this platform" is wrong metadata, not a broken install (docs/DESIGN.md,
"Dependencies"). Exits non-zero with the reason otherwise.
"""

from __future__ import annotations

import subprocess
import sys
from importlib import metadata

TOLERATED = ("mediapipe 0.10.30 is not supported on this platform",)
OPENCV_DISTRIBUTIONS = (
    "opencv-python",
    "opencv-contrib-python",
    "opencv-python-headless",
    "opencv-contrib-python-headless",
)


def pip_check_problems() -> list[str]:
    completed = subprocess.run([sys.executable, "-m", "pip", "check"], capture_output=True, text=True, check=False)
    lines = [line.strip() for line in completed.stdout.splitlines() if line.strip()]
    return [line for line in lines if line not in TOLERATED and not line.startswith("No broken requirements")]


def opencv_distributions() -> list[str]:
    installed = []
    for name in OPENCV_DISTRIBUTIONS:
        try:
            metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
        installed.append(name)
    return installed


def main() -> int:
    problems = pip_check_problems()
    opencv = opencv_distributions()
    if opencv != ["opencv-python-headless"]:
        problems.append(f"expected exactly one OpenCV, opencv-python-headless; installed: {opencv or 'none'}")
    for problem in problems:
        print(f"environment problem: {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
