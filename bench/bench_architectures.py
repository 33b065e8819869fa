"""What each architecture costs on the computer it runs on: parameters, file size, scoring 32 crops, one training step.

    python bench/bench_architectures.py [--resolution 128] [--architecture NAME ...] [--repeats 3] [--threads N]
                                        [--malloc]

Untrained models (``weights=None``): the cost does not depend on the weights. ``--threads 1`` limits TensorFlow to
one core: started twice at once, it measures whether two runs side by side, one core each, get more done than one
run on both cores. The projected epoch is the training
step's median time times the batches in one pass over the DFDC training split (24,951 crops), without the time
the augmentation takes (measured separately by ``bench_self_blend.py``). Run it on an idle machine: a training run
in the background doubles the numbers. The tensors come from TensorFlow's own allocator, as in every ``python -m
detector`` command (``detector.cli.common.reuse_tensor_memory``); ``--malloc`` measures malloc's instead. The last
two columns say where a training step's time goes: the page faults it takes and the share of its CPU time spent in
the kernel.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

TRAINING_CROPS = 24_951


def main() -> None:
    from detector.training import PRECISIONS

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--resolution", type=int, default=128)
    parser.add_argument("--architecture", action="append", dest="architectures")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--precision",
        choices=PRECISIONS,
        default="float32",
        help="Keras dtype policy: mixed_bfloat16 computes in bfloat16 (fast on CPUs with AVX512_BF16 or AMX)",
    )
    parser.add_argument("--threads", type=int, help="TensorFlow's threads within and between operations (default: all)")
    parser.add_argument("--malloc", action="store_true", help="tensors from malloc, not TensorFlow's own allocator")
    arguments = parser.parse_args()

    from detector.cli import common

    if not arguments.malloc:
        common.reuse_tensor_memory()

    import keras
    import tensorflow as tf

    if arguments.threads:
        tf.config.threading.set_intra_op_parallelism_threads(arguments.threads)
        tf.config.threading.set_inter_op_parallelism_threads(arguments.threads)

    from detector.training.architectures import ARCHITECTURES, build_classifier

    keras.config.set_dtype_policy(arguments.precision)

    names = arguments.architectures or list(ARCHITECTURES)
    batch = np.random.default_rng(0).integers(0, 256, (arguments.batch_size, 224, 224, 3)).astype(np.float32)
    labels = np.random.default_rng(1).integers(0, 2, (arguments.batch_size, 1)).astype(np.float32)
    print(f"load average: {', '.join(f'{load:.1f}' for load in os.getloadavg())}; cores: {os.cpu_count()}")
    header = (
        f"{'architecture':<20} {'params (M)':>10} {'file (MB)':>10} {'score 32 (s)':>13} {'train step (s)':>15} "
        f"{'epoch (h)':>10} {'faults/step':>12} {'kernel %':>9}"
    )
    print(
        f"resolution {arguments.resolution} px, batch {arguments.batch_size}, {arguments.precision}, "
        f"threads {arguments.threads or 'all'}, tensors from {'malloc' if arguments.malloc else 'TensorFlow'}, "
        f"median of {arguments.repeats}"
    )
    print(header)
    print("-" * len(header))
    for name in names:
        model = build_classifier(name, 224, arguments.resolution)
        with tempfile.TemporaryDirectory() as folder:
            path = os.path.join(folder, "model.keras")
            model.save(path, include_optimizer=False)
            megabytes = os.path.getsize(path) / 1e6
        model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="binary_crossentropy")
        model.predict_on_batch(batch)  # first calls build the graphs
        model.train_on_batch(batch, labels)
        scoring, training, faults, user, kernel = [], [], 0, 0.0, 0.0
        for _ in range(arguments.repeats):
            started = time.perf_counter()
            model.predict_on_batch(batch)
            scoring.append(time.perf_counter() - started)
            before = resource.getrusage(resource.RUSAGE_SELF)
            started = time.perf_counter()
            model.train_on_batch(batch, labels)
            training.append(time.perf_counter() - started)
            after = resource.getrusage(resource.RUSAGE_SELF)
            faults += after.ru_minflt - before.ru_minflt
            user += after.ru_utime - before.ru_utime
            kernel += after.ru_stime - before.ru_stime
        step = statistics.median(training)
        epoch_hours = step * TRAINING_CROPS / arguments.batch_size / 3600
        print(
            f"{name:<20} {model.count_params() / 1e6:>10.2f} {megabytes:>10.1f} {statistics.median(scoring):>13.2f} "
            f"{step:>15.2f} {epoch_hours:>10.2f} {faults / arguments.repeats:>12,.0f} "
            f"{100 * kernel / max(user + kernel, 1e-9):>9.0f}"
        )
        keras.backend.clear_session()


if __name__ == "__main__":
    main()
