"""One training epoch over 22,000 windows of 32 x 34 (the size of the seed's training set): time, windows/s.

    PYTHONPATH=. python bench/bench_train_epoch.py [--windows 22000] [--threads 1 2] [--batch-size 128]

The windows are synthetic (``training.datasets.synthetic_windows``, body-centred): ``--distinct``
of them are generated (default 2,000, ~10 s) and repeated up to ``--windows``, because an
epoch's cost does not depend on the values. For each thread count it times the training part of
one Lightning epoch (``ActionModule`` + ``Trainer``, validation excluded) and, for comparison, a
bare PyTorch loop doing the same optimiser steps. Also prints the time to generate windows.
Not a test: the numbers depend on the machine and its load.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pytorch_lightning as pl
import torch
from pytorch_lightning.callbacks import Callback

from inference.windows import WindowSpec
from training.datasets import WindowSet, synthetic_windows
from training.lightning import ActionModule, TrainConfig, WindowDataModule, action_loss


class EpochTimer(Callback):
    def __init__(self) -> None:
        self.seconds: list[float] = []
        self._start = 0.0

    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._start = time.perf_counter()

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.seconds.append(time.perf_counter() - self._start)


def lightning_epoch(train: WindowSet, val: WindowSet, batch_size: int) -> float:
    pl.seed_everything(0, verbose=False)
    module = ActionModule.build(train.label_names, train.spec, TrainConfig(batch_size=batch_size))
    timer = EpochTimer()
    trainer = pl.Trainer(
        accelerator="cpu",
        max_epochs=1,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        num_sanity_val_steps=0,
        deterministic=True,
        callbacks=[timer],
    )
    trainer.fit(module, datamodule=WindowDataModule(train, val, batch_size))
    return timer.seconds[0]


def plain_epoch(train: WindowSet, batch_size: int) -> float:
    torch.manual_seed(0)
    module = ActionModule.build(train.label_names, train.spec, TrainConfig())
    opt = torch.optim.Adam(module.parameters(), lr=1e-3)
    x, y = torch.from_numpy(train.features), torch.from_numpy(train.labels)
    order = torch.randperm(len(y))
    start = time.perf_counter()
    for i in range(0, len(y), batch_size):
        idx = order[i : i + batch_size]
        loss = action_loss(module(x[idx]), y[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--windows", type=int, default=22_000)
    parser.add_argument("--distinct", type=int, default=2_000, help="windows actually generated")
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--batch-size", type=int, default=128)
    args = parser.parse_args()

    spec = WindowSpec(normalisation="body_centred")
    per_class = max(1, args.distinct // (6 * 4))
    start = time.perf_counter()
    base = synthetic_windows(per_class, spec, seed=0)
    gen_s = time.perf_counter() - start
    print(
        f"generated {len(base)} synthetic windows in {gen_s:.1f} s "
        f"({len(base) / gen_s:.0f} windows/s, 1 process)"
    )
    idx = np.resize(np.arange(len(base)), args.windows)
    train = base.subset(idx)
    val = base.subset(np.arange(min(256, len(base))))
    print(f"epoch over {len(train)} windows of {spec.steps}x34, batch {args.batch_size}, LSTM 34->50->6")
    for threads in args.threads:
        torch.set_num_threads(threads)
        lt = lightning_epoch(train, val, args.batch_size)
        pt = plain_epoch(train, args.batch_size)
        print(
            f"threads {threads}: Lightning {lt:6.2f} s ({len(train) / lt:7.0f} windows/s)   "
            f"plain PyTorch {pt:6.2f} s ({len(train) / pt:7.0f} windows/s)"
        )


if __name__ == "__main__":
    main()
