"""Pretrain several parent networks side by side on one GPU, in a fixed wall-clock budget.

How the shipped parent (and the full-budget pathway ablation) were trained on a lent GPU
machine: one decoded cache, one process per variant (each with its own data-loading
workers), all on the same GPU. The number of iterations is not known in advance, so it is
agreed at run time: every variant warms up for ``--warmup`` iterations (linear learning-rate
ramp), reports its speed, and all then train for the same total, the slowest variant's speed
times the budget left, under a cosine schedule to 1 % of the learning rate. Every variant
thus sees the same number of iterations (a fair ablation), and the total is written to
``summary.json`` (``pretrain.iters=<total>`` with the pipeline's cosine schedule is the
same recipe, without the warm-up, for a rerun on any machine). ``--init`` starts every
variant from a checkpoint's weights (to continue a run at a lower learning rate).

    PYTHONPATH=. python benchmarks/gpu_parents.py --davis DAVIS_ROOT --out runs/gpu \\
        --budget-s 420 -S model.crop_size=160 \\
        --variant slowfast:model.pathways=slowfast --variant slow:model.pathways=slow
"""
from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path

import torch
import yaml
from mmengine.hooks import Hook

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.real_davis import _override  # noqa: E402
from pipeline.data.cache import decode  # noqa: E402
from pipeline.engine.checkpoint import load_weights  # noqa: E402
from pipeline.fileio import atomic_path  # noqa: E402
from pipeline.engine.pretrain import PretrainConfig, pretrain  # noqa: E402
from stages.params import check_section  # noqa: E402


class AgreedCosineHook(Hook):
    """Linear warm-up, then a cosine over a total that all variants agree on (see module doc).

    Speeds go to ``sync_dir/<name>.rate``; the total is the slowest speed times the time left
    to ``deadline`` (a ``time.time()``), rounded down to 100 iterations.
    """

    priority = "VERY_HIGH"

    def __init__(self, name: str, names: list[str], sync_dir: Path, deadline: float,
                 lr: float, warmup: int = 100, final: float = 0.01):
        self.name, self.names, self.sync = name, names, Path(sync_dir)
        self.deadline, self.lr, self.warmup, self.final = deadline, lr, warmup, final
        self.total, self.t0 = None, None

    def _agree(self) -> int:
        rate = self.warmup / (time.time() - self.t0)
        (self.sync / f"{self.name}.rate").write_text(str(rate))
        while True:
            files = [self.sync / f"{n}.rate" for n in self.names]
            if all(f.is_file() for f in files):
                break
            time.sleep(0.5)
        slowest = min(float(f.read_text()) for f in files)
        return self.warmup + int(slowest * (self.deadline - time.time())) // 100 * 100

    def before_train_iter(self, runner, batch_idx, data_batch=None) -> None:
        i = runner.iter
        if i == 0:
            self.t0 = time.time()
        if i == self.warmup:
            self.total = self._agree()
        if i < self.warmup:
            lr = self.lr * (i + 1) / self.warmup
        else:
            progress = (i - self.warmup) / max(1, self.total - self.warmup)
            lr = self.lr * (self.final + (1 - self.final) * (1 + math.cos(math.pi * progress)) / 2)
        for group in runner.optim_wrapper.optimizer.param_groups:
            group["lr"] = lr

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None) -> None:
        if self.total is not None and runner.iter + 1 >= self.total:
            runner.train_loop.stop_training = True


class InitWeightsHook(Hook):
    """Loads a pipeline checkpoint's weights (strictly) into the model before training."""

    def __init__(self, path: str):
        self.path = path

    def before_train(self, runner) -> None:
        model = runner.model.module if hasattr(runner.model, "module") else runner.model
        model.load_state_dict(load_weights(Path(self.path))["state_dict"], strict=True)


def _record(path: Path, meta: dict) -> None:
    """Replace the checkpoint's meta (pretrain() records its config's iters, here a cap)."""
    ckpt = load_weights(path)
    ckpt["meta"] = meta
    with atomic_path(path) as tmp:
        torch.save(ckpt, tmp)


def _child(spec: dict) -> None:
    params = spec["params"]
    cfg = check_section(PretrainConfig, {**params["pretrain"], "iters": 10**6,
                                         "checkpoint_interval": 10**6,
                                         "num_workers": spec["workers"]}, "pretrain")
    out = Path(spec["out"])
    hook = AgreedCosineHook(spec["name"], spec["names"], spec["sync"], spec["deadline"],
                            cfg.lr, spec["warmup"])
    hooks = [hook] + ([InitWeightsHook(spec["init"])] if spec.get("init") else [])
    t0 = time.time()
    pretrain(Path(spec["cache"]), out / "work", out / "model.pth", out / "loss.tsv",
             params["model"], cfg, hooks=hooks)
    _record(out / "model.pth", {"iters": hook.total, "batch_size": cfg.batch_size, "seed": cfg.seed,
                                "schedule": f"{spec['warmup']} warm-up + cosine (gpu_parents.py)",
                                "overrides": spec["overrides"], "init": spec.get("init")})
    (out / "result.json").write_text(json.dumps({
        "name": spec["name"], "iters": hook.total, "seconds": round(time.time() - t0, 1),
        "overrides": spec["overrides"], "init": spec.get("init")}))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--davis", type=Path, help="DAVIS root (holds JPEGImages/)")
    ap.add_argument("--out", type=Path, help="run folder")
    ap.add_argument("-S", dest="sets", action="append", default=[], help="key=value, every variant")
    ap.add_argument("--variant", action="append", default=[],
                    help="name:key=value,key=value (overrides of this variant)")
    ap.add_argument("--budget-s", type=float, default=420, help="training wall-clock budget")
    ap.add_argument("--warmup", type=int, default=100)
    ap.add_argument("--workers", type=int, default=3, help="data-loading workers per variant")
    ap.add_argument("--init", help="start every variant from this checkpoint's weights")
    ap.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        return _child(json.loads(args.child.read_text()))
    base = yaml.safe_load((ROOT / "params.yaml").read_text())
    for s in args.sets:
        _override(base, s)
    cache = args.out / "cache"
    if not (cache / "index.parquet").is_file():
        decode(args.davis, cache, (int(base["decode"]["height"]), int(base["decode"]["width"])))
    sync = args.out / "sync"
    sync.mkdir(parents=True, exist_ok=True)
    for f in sync.glob("*.rate"):
        f.unlink()
    variants = [v.split(":", 1) for v in args.variant]
    names = [n for n, _ in variants]
    deadline = time.time() + args.budget_s
    procs = []
    for name, assignments in variants:
        params = yaml.safe_load(yaml.safe_dump(base))
        overrides = args.sets + [a for a in assignments.split(",") if a]
        for a in overrides[len(args.sets):]:
            _override(params, a)
        out = args.out / name
        out.mkdir(parents=True, exist_ok=True)
        spec = {"name": name, "names": names, "sync": str(sync), "deadline": deadline,
                "warmup": args.warmup, "workers": args.workers, "cache": str(cache), "init": args.init,
                "out": str(out), "params": params, "overrides": overrides}
        (out / "spec.json").write_text(json.dumps(spec))
        log = (out / "train.log").open("w")
        procs.append(subprocess.Popen([sys.executable, __file__, "--child", str(out / "spec.json")],
                                      stdout=log, stderr=subprocess.STDOUT,
                                      env=dict(os.environ, TQDM_DISABLE="1")))
    codes = [p.wait() for p in procs]
    results = [json.loads((args.out / n / "result.json").read_text())
               for n, c in zip(names, codes) if c == 0]
    (args.out / "summary.json").write_text(json.dumps({"exit_codes": codes, "runs": results}, indent=1))
    print(json.dumps({"exit_codes": codes, "runs": results}), flush=True)


if __name__ == "__main__":
    main()
