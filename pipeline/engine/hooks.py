"""mmengine hooks: a progress bar, a loss curve written as a TSV for ``dvc plots``, a stop
on a NaN or infinite loss, and channels-last training on the CPU."""
from __future__ import annotations

import math
from pathlib import Path

import torch
from mmengine.hooks import Hook
from tqdm import tqdm

from pipeline.errors import TrainingDivergedError


def _scalar(value) -> float:
    return float(value.detach()) if hasattr(value, "detach") else float(value)


class ProgressBarHook(Hook):
    """A tqdm bar over training iterations (rank 0 only), showing the current loss."""

    priority = "VERY_LOW"

    def __init__(self, desc: str = "pretrain"):
        self.desc, self.bar = desc, None

    def before_train(self, runner) -> None:
        if runner.rank == 0:
            self.bar = tqdm(total=runner.max_iters, initial=runner.iter, desc=self.desc, unit="it")

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None) -> None:
        if self.bar is not None:
            self.bar.update(1)
            if outputs:
                self.bar.set_postfix(loss=f"{_scalar(outputs['loss']):.4f}")

    def after_train(self, runner) -> None:
        if self.bar is not None:
            self.bar.close()


class LossCurveHook(Hook):
    """Appends ``step<TAB>loss`` rows to a TSV; on resume, rows past the resumed step go."""

    priority = "LOW"

    def __init__(self, path: Path):
        self.path = Path(path)

    def before_train(self, runner) -> None:
        if runner.rank != 0:
            return
        rows = []
        if self.path.is_file():
            for line in self.path.read_text().splitlines()[1:]:
                step = int(line.split("\t")[0])
                if step <= runner.iter:
                    rows.append(line)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text("step\tloss\n" + "".join(r + "\n" for r in rows))

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None) -> None:
        if runner.rank == 0 and outputs:
            loss = _scalar(outputs["loss"])
            with self.path.open("a") as f:
                f.write(f"{runner.iter + 1}\t{loss:.6f}\n")


class FiniteLossHook(Hook):
    """Stops training at the first NaN or infinite loss, naming the step.

    It runs before the checkpoint hook (priority ``VERY_HIGH``), so the diverged weights are
    never saved: the newest ``iter_*.pth`` in the work folder is the last good checkpoint.
    """

    priority = "VERY_HIGH"

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None) -> None:
        loss = _scalar(outputs["loss"]) if outputs else 0.0
        if math.isfinite(loss):
            return
        saved = sorted(Path(runner.work_dir).glob("iter_*.pth"), key=lambda p: int(p.stem[5:]))
        kept = f"the last good checkpoint is {saved[-1]}" if saved else "no checkpoint was saved yet"
        raise TrainingDivergedError(
            f"pretrain step {runner.iter + 1}: the loss is {loss}; training stopped, {kept}; "
            "lower pretrain.lr or check the training data"
        )


class ChannelsLastHook(Hook):
    """Trains in the ``channels_last_3d`` layout when the model is on the CPU: the weights
    and the clips the data preprocessor makes, as fine-tuning does. oneDNN's conv backward,
    the depthwise convs' above all, is much faster on it; the sums run in another order, so
    the weights differ from a contiguous run's by float rounding only. The weights go back to
    the default layout when training ends. On a GPU, or with several processes (DDP's
    gradient buckets take the layout the weights had when it wrapped them), it does nothing."""

    priority = "VERY_HIGH"

    def before_train(self, runner) -> None:
        self._set(runner, torch.channels_last_3d)

    def after_train(self, runner) -> None:
        self._set(runner, torch.contiguous_format)

    @staticmethod
    def _set(runner, layout) -> None:
        model = runner.model
        if runner.distributed or next(model.parameters()).device.type != "cpu":
            return
        model.to(memory_format=layout)
        model.data_preprocessor.memory_format = layout
