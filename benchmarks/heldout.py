"""The held-out protocol: fine-tune and score a parent on held-out train sequences and the val
sequences, over several fine-tuning seeds (the README's "Choosing settings on held-out
sequences" tables).

The DAVIS root is one whose train split lacks the held-out sequences and whose val split has
them (the download stage writes such a root with ``download.holdout``; its
``ImageSets/holdout.txt`` names them), and the parent was trained on its train split only.
Each sequence is fine-tuned once per seed and setting of the ``finetune`` section that
changes training; the fine-tuned weights are kept under ``--out`` so that settings of
prediction alone (``-S finetune.test_flip=false``, ``predict_context_scale``...) are scored
without fine-tuning again.

    PYTHONPATH=. python benchmarks/heldout.py --davis data/davis --cache data/cache \\
        --checkpoint data/pretrain/model.pth --out runs/heldout --seeds 0,1,2 \\
        [-S finetune.steps=50 ...] [--name label]

prints a Markdown table (a row per sequence, a column per seed, the means of the held-out
fast-motion, held-out other, held-out and val sequences) and appends one JSON line per run to
``<out>/runs.jsonl`` (with each sequence's seconds of fine-tuning and prediction, and its
mirror images and clips predicted). The fast-motion half is the sequences with DAVIS's FM attribute.

    PYTHONPATH=. python benchmarks/heldout.py --davis data/davis --cache data/cache \
        --summary runs/a/runs.jsonl runs/b/runs.jsonl

prints, per run folder and label, the group means over its seeds: mean, standard deviation
and range (a later line of the same label and seed replaces an earlier one).
"""
from __future__ import annotations

import argparse
import hashlib
import json
import time
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np
import torch
import yaml

from benchmarks.real_davis import PARAMS, _override
from pipeline.data.cache import load_arrays, sequence_table
from pipeline.data.davis import VOID, list_sequences, read_mask
from pipeline.engine.checkpoint import register_trusted_loader
from pipeline.engine.osvos import (FinetuneConfig, blend_weights, classes_to_ids, finetune, frame0_labels,
                                    propagate)
from pipeline.engine.vos import load_segmenter, write_sequence
from pipeline.evaluation.evaluate import evaluate_folder
from pipeline.labels import object_ids
from pipeline.runtime import retain_freed_memory
from stages.params import check_section

PREDICTION_ONLY = ("test_flip", "flip_uncertain", "predict_bf16", "predict_context_scale", "drop_new_parts",
                   "new_part_margin", "search_growth", "appearance_vote", "refind_area",
                   "appearance_update", "edge_refine", "motion_check", "growth_vote")
# applied to the stored fine-tuned weights (:func:`blend_weights`), not part of their key
AFTER_TRAINING = ("blend",)
# training settings added after weights were stored: left out of the key at these values
# (the training they name is then the training before them), so that stored weights stay found
ADDED_LATER = {"paste_prob": 0.0, "cut_prob": 0.0}


def weights_key(checkpoint: Path, cfg: FinetuneConfig, name: str) -> str:
    """What names ``name``'s fine-tuned weights in the store: the parent's bytes and the
    settings that change training (not those of prediction alone, nor a setting added later
    at the value that means the training before it)."""
    training = {k: v for k, v in asdict(cfg).items()
                if k not in PREDICTION_ONLY + AFTER_TRAINING and not (k in ADDED_LATER and v == ADDED_LATER[k])}
    key = hashlib.sha256(Path(checkpoint).read_bytes())
    key.update(json.dumps([training, name], sort_keys=True, default=str).encode())
    return key.hexdigest()[:16]


def _finetuned(checkpoint: Path, cfg: FinetuneConfig, name: str, frames, labels0, store: Path):
    """The parent fine-tuned on ``name``'s frame 0 with ``cfg``, from ``store`` if done before."""
    path = store / f"{name}-{weights_key(checkpoint, cfg, name)}.pth"
    model, seconds = load_segmenter(checkpoint), None
    if path.is_file():
        model.load_state_dict(torch.load(path, weights_only=True))
    else:
        t0 = time.perf_counter()
        if cfg.steps:
            finetune(model, frames, labels0, replace(cfg, blend=1.0))
        torch.save(model.state_dict(), path)
        seconds = time.perf_counter() - t0
    if cfg.blend != 1.0:
        blend_weights(model, load_segmenter(checkpoint), cfg.blend)
    return model.eval(), seconds


def run(davis: Path, cache: Path, checkpoint: Path, out: Path, cfg: FinetuneConfig, seed: int,
        label: str) -> dict:
    """Segment every val sequence with ``cfg`` at fine-tuning ``seed``; J&F per sequence."""
    cfg = replace(cfg, seed=seed)
    results = out / "results" / f"{label}-seed{seed}"
    store = out / "finetuned"
    store.mkdir(parents=True, exist_ok=True)
    seqs = {s.name: s for s in list_sequences(davis, ("val",))}
    seconds, mirrored = {}, {}
    for name in seqs:
        frames, masks_small = load_arrays(cache, name)
        mask0 = read_mask(seqs[name].masks[0], seqs[name].year)
        ids = object_ids(mask0)
        labels0 = frame0_labels(masks_small[0], ids)
        model, ft_s = _finetuned(checkpoint, cfg, name, frames, labels0, store)
        t0, counts = time.perf_counter(), {}
        classes = propagate(model, frames, labels0, cfg.clip_len, out_size=mask0.shape,
                            counts=counts, **cfg.predict_options())
        mirrored[name] = (counts["mirrored"], counts["clips"])
        out_ids = classes_to_ids(classes, ids)
        out_ids[0] = np.where(mask0 == VOID, 0, mask0)
        write_sequence(results / name, out_ids)
        seconds[name] = (ft_s, time.perf_counter() - t0)
    scores = evaluate_folder(results, davis, jobs=2)
    per = {}
    for s in scores:
        st = s.stats()
        per.setdefault(s.sequence, []).append((float(st["J-Mean"]) + float(st["F-Mean"])) / 2)
    return {"label": label, "seed": seed, "per_sequence": {k: float(np.mean(v)) for k, v in per.items()},
            "seconds": seconds, "mirrored": mirrored}


def table(runs: list[dict], info: dict[str, dict]) -> str:
    """Markdown: a row per sequence (held-out first), a column per run, group means last."""
    names = sorted(runs[0]["per_sequence"], key=lambda n: (not info[n]["held_out"], n))
    head = "| sequence | " + " | ".join(f"{r['label']} s{r['seed']}" for r in runs) + " | mean |"
    lines = [head, "|" + "---|" * (len(runs) + 2)]

    def row(label, chosen):
        vals = [float(np.mean([r["per_sequence"][n] for n in chosen])) for r in runs]
        return f"| {label} | " + " | ".join(f"{v:.3f}" for v in vals) + f" | {np.mean(vals):.3f} |"

    for n in names:
        tags = ("held-out" if info[n]["held_out"] else "val") + (", FM" if "FM" in info[n]["attributes"] else "")
        lines.append(row(f"{n} ({tags})", [n]))
    lines += [row(f"**{k}**", v) for k, v in groups(names, info).items()]
    return "\n".join(lines)


def groups(names: list[str], info: dict[str, dict]) -> dict[str, list[str]]:
    """The sequences of each group the tables report (held-out FM / other / all, val), in
    the order given; a group without sequences (e.g. no held-out ones) is left out."""
    held = [n for n in names if info[n]["held_out"]]
    out = {"held-out FM": [n for n in held if "FM" in info[n]["attributes"]],
           "held-out other": [n for n in held if "FM" not in info[n]["attributes"]],
           "held-out": held, "val": [n for n in names if not info[n]["held_out"]]}
    return {k: v for k, v in out.items() if v}


def summary(files: list[Path], info: dict[str, dict]) -> str:
    """Markdown: a row per folder/label, each group's mean +- sd (min-max) over its seeds."""
    runs: dict[str, dict[int, dict]] = {}
    for f in files:
        for line in Path(f).read_text().splitlines():
            r = json.loads(line)
            runs.setdefault(f"{Path(f).parent.name}/{r['label']}", {})[r["seed"]] = r["per_sequence"]
    chosen = groups(list(info), info)
    lines = ["| label | seeds | " + " | ".join(chosen) + " |", "|---|---|" + "---|" * len(chosen)]
    for label, seeds in runs.items():
        cells = []
        for names in chosen.values():
            v = np.array([np.mean([per[n] for n in names]) for per in seeds.values()])
            cells.append(f"{v.mean():.3f} ± {v.std(ddof=1) if len(v) > 1 else 0:.3f} "
                         f"({v.min():.3f}-{v.max():.3f})")
        lines.append(f"| {label} | {','.join(map(str, sorted(seeds)))} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    retain_freed_memory()  # as the stage commands do
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--davis", type=Path, required=True, help="DAVIS root with the held-out split")
    ap.add_argument("--cache", type=Path, required=True, help="its decoded cache")
    ap.add_argument("--checkpoint", type=Path, help="parent trained on its train split")
    ap.add_argument("--out", type=Path, help="run folder (fine-tuned weights kept)")
    ap.add_argument("--summary", type=Path, nargs="+", help="runs.jsonl files: print their summary")
    ap.add_argument("--seeds", default="0", help="fine-tuning seeds, e.g. 0,1,2")
    ap.add_argument("--name", default="run", help="label of this setting in the table")
    ap.add_argument("-S", dest="sets", action="append", default=[], help="finetune.key=value")
    args = ap.parse_args()
    if not args.summary and not (args.checkpoint and args.out):
        ap.error("--checkpoint and --out are required (or --summary)")
    register_trusted_loader()
    params = yaml.safe_load(PARAMS.read_text())
    for s in args.sets:
        _override(params, s)
    cfg = check_section(FinetuneConfig, params["finetune"], "finetune")
    info = {s["name"]: s for s in sequence_table(args.cache, "val")}
    held_file = args.davis / "ImageSets" / "holdout.txt"
    held = set(held_file.read_text().split()) if held_file.is_file() else set()
    for s in info.values():
        s["held_out"] = s.get("held_out") or s["name"] in held
    if args.summary:
        print(summary(args.summary, info))
        return
    runs = []
    for seed in [int(s) for s in args.seeds.split(",")]:
        runs.append(run(args.davis, args.cache, args.checkpoint, args.out, cfg, seed, args.name))
        with (args.out / "runs.jsonl").open("a") as f:
            f.write(json.dumps(runs[-1] | {"sets": args.sets, "checkpoint": str(args.checkpoint)}) + "\n")
    print(table(runs, info), flush=True)


if __name__ == "__main__":
    main()
