"""Pretrain, fine-tune and score on a real DAVIS root without DVC (the numbers in the README).

The same library calls as the pretrain / finetune / evaluate stages, on a cache decoded at
the working size, with params.yaml's sections overridden like ``dvc exp run -S``
(``key=value`` replaces, a mapping too; DVC's ``~key`` deletes and ``+key=value`` adds):

    PYTHONPATH=. python benchmarks/real_davis.py --davis ../shared/data/davis2016-dev/DAVIS \\
        --out runs/davis -S model.crop_size=128 \\
        -S 'model.backbone.slow_pathway={type: EfficientNetLite0Pathway, init: imagenet}' \\
        -S pretrain.iters=4000 --steps 0,100

prints one JSON line per fine-tuning budget: J&F, per-sequence (J, F), seconds.
``--checkpoint`` skips pretraining and scores that parent network.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import yaml

from pipeline.data.cache import decode
from pipeline.engine.osvos import FinetuneConfig
from pipeline.engine.pretrain import PretrainConfig, pretrain
from pipeline.engine.vos import run_split
from pipeline.evaluation.evaluate import evaluate_folder
from pipeline.runtime import retain_freed_memory
from stages.params import check_section

PARAMS = Path(__file__).resolve().parents[1] / "params.yaml"


def _override(params: dict, assignment: str) -> None:
    key, _, value = assignment.partition("=")
    *path, last = key.lstrip("~+").split(".")
    node = params
    for k in path:
        node = node.setdefault(k, {})
    if key.startswith("~"):
        node.pop(last, None)
    else:
        node[last] = yaml.safe_load(value)


def main() -> None:
    retain_freed_memory()  # as the stage commands do
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--davis", type=Path, required=True, help="DAVIS root (holds JPEGImages/)")
    ap.add_argument("--out", type=Path, required=True, help="run folder")
    ap.add_argument("-S", dest="sets", action="append", default=[], help="key=value override")
    ap.add_argument("--steps", default="100", help="fine-tuning budgets to score, e.g. 0,100")
    ap.add_argument("--checkpoint", type=Path, help="score this parent instead of pretraining")
    args = ap.parse_args()
    params = yaml.safe_load(PARAMS.read_text())
    for s in args.sets:
        _override(params, s)
    args.out.mkdir(parents=True, exist_ok=True)
    cache = args.out / "cache"
    size = (int(params["decode"]["height"]), int(params["decode"]["width"]))
    if not (cache / "index.parquet").is_file():
        decode(args.davis, cache, size)
    checkpoint = args.checkpoint or args.out / "model.pth"
    if args.checkpoint is None:
        t0 = time.perf_counter()
        cfg = check_section(PretrainConfig, params["pretrain"], "pretrain")
        pretrain(cache, args.out / "work", checkpoint, args.out / "loss.tsv", params["model"], cfg)
        print(json.dumps({"pretrain_s": round(time.perf_counter() - t0, 1)}), flush=True)
    for steps in [int(s) for s in args.steps.split(",")]:
        cfg = check_section(FinetuneConfig, {**params["finetune"], "steps": steps}, "finetune")
        results = args.out / f"results_steps{steps}"
        t0 = time.perf_counter()
        timings = run_split(cache, args.davis, checkpoint, results, cfg)
        seconds = time.perf_counter() - t0
        scores = evaluate_folder(results, args.davis, jobs=2)
        per = {s.name: (float(s.stats()["J-Mean"]), float(s.stats()["F-Mean"])) for s in scores}
        print(json.dumps({
            "steps": steps, "J&F": round(float(np.mean([(j + f) / 2 for j, f in per.values()])), 4),
            "per_sequence": {k: [round(j, 3), round(f, 3)] for k, (j, f) in per.items()},
            "seconds_per_sequence": {k: [round(v["finetune_s"], 1), round(v["predict_s"], 1)]
                                     for k, v in timings.items()},
            "total_s": round(seconds, 1),
        }), flush=True)


if __name__ == "__main__":
    main()
