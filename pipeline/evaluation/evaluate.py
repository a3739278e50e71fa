"""Score a results folder against a DAVIS root, like the toolkit's ``evaluation_method.py``.

Semi-supervised protocol: the first and last frames are excluded; the objects are those of
the first ground-truth frame (ids 1..max id); a result with an id above that is an error;
missing ids score as empty masks; global values are means over OBJECTS.

``year=2016``: masks are binary (255 is the object), any non-zero result pixel is the
object. ``year=2017``: palette ids; 255 in the ground truth is void, set to background.
"""
from __future__ import annotations

import csv
import json
import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pipeline.data.davis import VOID, detect_year, list_sequences, read_mask, read_mask_as_ids
from pipeline.evaluation.measures import db_eval_boundary, db_eval_iou, db_statistics

GLOBAL_COLUMNS = ("J&F-Mean", "J-Mean", "J-Recall", "J-Decay", "F-Mean", "F-Recall", "F-Decay")


class EvaluationError(ValueError):
    """A results folder cannot be scored; the message says which file and why."""


@dataclass(frozen=True)
class ObjectScore:
    sequence: str
    object_id: int
    J: tuple[float, ...]
    F: tuple[float, ...]

    @property
    def name(self) -> str:
        return f"{self.sequence}_{self.object_id}"

    def stats(self) -> dict:
        jm, jr, jd = db_statistics(np.array(self.J))
        fm, fr, fd = db_statistics(np.array(self.F))
        return {"J-Mean": jm, "J-Recall": jr, "J-Decay": jd, "F-Mean": fm, "F-Recall": fr, "F-Decay": fd}


def _read_result(path: Path, gt_shape, year: int) -> np.ndarray:
    if not path.is_file():
        raise EvaluationError(f"{path}: result missing; write one PNG per frame of the sequence")
    ids = read_mask_as_ids(path)
    if ids.shape != gt_shape:
        raise EvaluationError(
            f"{path}: result size {ids.shape[1]}x{ids.shape[0]} differs from the ground truth "
            f"{gt_shape[1]}x{gt_shape[0]}; results must be at the original resolution"
        )
    return (ids > 0).astype(np.uint8) if year == 2016 else ids


def evaluate_sequence(results_dir: Path, name: str, masks: tuple[Path, ...], year: int) -> list[ObjectScore]:
    """Per-object per-frame J and F of one sequence (frames 1..N-2)."""
    gt = np.stack([read_mask(p, year) for p in masks])
    gt[gt == VOID] = 0
    num_objects = int(gt[0].max())
    frames = range(1, len(masks) - 1)
    gt = gt[1:-1]
    res = np.stack([_read_result(Path(results_dir) / name / f"{t:05d}.png", gt.shape[1:], year)
                    for t in frames]) if len(frames) else np.zeros_like(gt)
    if int(res.max(initial=0)) > num_objects:
        raise EvaluationError(
            f"{Path(results_dir) / name}: results hold object id {int(res.max())} but the first "
            f"ground-truth frame has only {num_objects} object(s); ids must be 1..{num_objects}"
        )
    scores = []
    for k in range(1, num_objects + 1):
        j = db_eval_iou(gt == k, res == k)
        f = db_eval_boundary(gt == k, res == k)
        scores.append(ObjectScore(name, k, tuple(map(float, j)), tuple(map(float, f))))
    return scores


def evaluate_folder(results_dir: Path, davis_root: Path, year: int | None = None,
                    sequences: list[str] | None = None, split: str = "val",
                    jobs: int | None = None) -> list[ObjectScore]:
    """Score every sequence of ``split`` (or ``sequences``) found under ``davis_root``."""
    davis_root = Path(davis_root)
    year = year or detect_year(davis_root)
    seqs = {s.name: s for s in list_sequences(davis_root, ("train", "val"))}
    names = sequences or [s.name for s in seqs.values() if s.split == split]
    missing = [n for n in names if n not in seqs]
    if missing:
        raise EvaluationError(f"{davis_root}: no ground truth for sequence(s) {', '.join(missing)}")
    jobs = jobs or min(len(names), os.cpu_count() or 1)
    args = [(Path(results_dir), n, seqs[n].masks, year) for n in names]
    if jobs <= 1:
        per_seq = [evaluate_sequence(*a) for a in args]
    else:
        with ProcessPoolExecutor(jobs) as pool:
            per_seq = list(pool.map(evaluate_sequence, *zip(*args)))
    return [score for seq in per_seq for score in seq]


def global_row(scores: list[ObjectScore]) -> dict:
    """The toolkit's global row: means over objects; J&F = (J-Mean + F-Mean) / 2."""
    stats = [s.stats() for s in scores]
    row = {k: float(np.mean([s[k] for s in stats])) for k in GLOBAL_COLUMNS[1:]}
    return {"J&F-Mean": (row["J-Mean"] + row["F-Mean"]) / 2, **row}


def _write_csv(path: Path, header, rows) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)
    tmp.replace(path)


def write_reports(scores: list[ObjectScore], out_dir: Path, split: str = "val") -> dict:
    """``global_results-<split>.csv``, ``per-sequence_results-<split>.csv`` (3 decimals as
    the toolkit) and ``results-<split>.json`` with full precision and per-frame values."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    g = global_row(scores)
    _write_csv(out_dir / f"global_results-{split}.csv", GLOBAL_COLUMNS,
               [[f"{g[c]:.3f}" for c in GLOBAL_COLUMNS]])
    _write_csv(out_dir / f"per-sequence_results-{split}.csv", ("Sequence", "J-Mean", "F-Mean"),
               [[s.name, f"{s.stats()['J-Mean']:.3f}", f"{s.stats()['F-Mean']:.3f}"] for s in scores])
    full = {
        "global": g,
        "objects": {s.name: {**s.stats(), "J": list(s.J), "F": list(s.F)} for s in scores},
    }
    tmp = out_dir / f"results-{split}.json.tmp"
    tmp.write_text(json.dumps(full, indent=1))
    tmp.replace(out_dir / f"results-{split}.json")
    return g
