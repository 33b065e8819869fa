"""Whether a benchmark set's reenactment proxies are smoother than the real photos they were made from.

    python -m scripts.measure_proxy_sharpness [--set utkface_reenactments] [--set dfdc_reenactments]

Each proxy in those sets shares its group with the real it was made from (the set's labels file), both decoded as
the models see them (``datasets.read_image`` at 128 px), then made grey. Outside the region the proxy warped the
two differ only by JPEG noise, so the comparison is made where they differ by more than ``CHANGED`` grey levels:
the mean absolute Laplacian of the proxy there over the real's. A ratio below 1 means the warp smoothed what it
moved. Printed per set: the pairs compared (those with at least ``LEAST_CHANGED`` changed pixels), the ratio's
median and quartiles, and the share of proxies smoother than their real. A diagnostic of why a network ranks the
proxies as it does: nothing here changes what ships.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np

from detector.evaluation import benchmark
from detector.training import datasets

SIDE = 128
CHANGED = 4.0
LEAST_CHANGED = 50
PROXY_SETS = ("utkface_reenactments", "dfdc_reenactments")


def _grey(path: Path) -> np.ndarray:
    return cv2.cvtColor(datasets.read_image(path, SIDE), cv2.COLOR_RGB2GRAY).astype(np.float32)


def sharpness_ratio(real: np.ndarray, proxy: np.ndarray) -> float | None:
    """High-frequency energy of ``proxy`` over ``real``'s where they differ (grey images of one size); None where
    fewer than ``LEAST_CHANGED`` pixels differ by more than ``CHANGED``."""
    changed = np.abs(real - proxy) > CHANGED
    if changed.sum() < LEAST_CHANGED:
        return None
    real_energy = np.abs(cv2.Laplacian(real, cv2.CV_32F))[changed].mean()
    proxy_energy = np.abs(cv2.Laplacian(proxy, cv2.CV_32F))[changed].mean()
    return float(proxy_energy / max(real_energy, 1e-6))


def pairs(crops: datasets.CropSet) -> list[tuple[Path, Path]]:
    """(real, proxy) paths of each proxy whose group holds a real, in the set's order."""
    rows = list(zip(crops.files, crops.labels, crops.groups, strict=True))
    reals = {group: name for name, label, group in rows if label == 0}
    return [
        (crops.root / reals[group], crops.root / name) for name, label, group in rows if label == 1 and group in reals
    ]


def summary(ratios: list[float]) -> str:
    values = np.asarray(ratios)
    low, median, high = np.quantile(values, [0.25, 0.5, 0.75])
    return (
        f"{len(values)} pairs; proxy over real high-frequency energy where the warp changed the face: median "
        f"{median:.3f} (quartiles {low:.3f}-{high:.3f}); proxies smoother than their real {np.mean(values < 1):.1%}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--set", action="append", dest="sets", choices=PROXY_SETS, help="a proxy set (default: both)")
    parser.add_argument("--root", type=Path, default=benchmark.DEFAULT_FOLDER, help="the benchmark's folder")
    arguments = parser.parse_args(argv)
    for item in benchmark.by_key(arguments.sets or PROXY_SETS):
        crops = benchmark.crop_set(item, arguments.root, Path(".cache"))
        ratios = [sharpness_ratio(_grey(real), _grey(proxy)) for real, proxy in pairs(crops)]
        print(f"{item.key}: {summary([ratio for ratio in ratios if ratio is not None])}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
