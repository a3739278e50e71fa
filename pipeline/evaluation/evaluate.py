"""Score a results folder against a DAVIS root, like the toolkit's ``evaluation_method.py``.

Semi-supervised protocol: the first and last frames are excluded; the objects are those of
the first ground-truth frame (ids 1..max id); a result with an id above that is an error;
missing ids score as empty masks (where the toolkit refuses any mismatch in the count);
global values are means over OBJECTS. An id below the largest that the first frame lacks (ids
1 and 3) is scored as the toolkit scores it, an empty object (a result that leaves it empty
scores 1.0), with a warning naming the sequence and the ids (:func:`warn_absent_objects`).
Ground truth comes from the split file, or, for
sequences named explicitly, straight from ``Annotations/480p/<seq>/`` as in the toolkit; each
annotated frame is paired with the result of the same name (ground truth on every 5th frame
scores those frames' results), as the toolkit reads results by the annotations' names.

``year=2016``: masks are binary (255 is the object), any non-zero result pixel is the
object. ``year=2017``: palette ids; 255 in the ground truth is void, set to background.
"""
from __future__ import annotations

import logging
import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from pipeline.data.davis import (VOID, DavisError, detect_year, list_sequences, read_mask,
                                 read_mask_as_ids)
from pipeline.errors import InputError
from pipeline.evaluation.measures import db_eval_boundary, db_eval_iou, db_statistics, j_and_f
from pipeline.fileio import write_csv_atomic, write_json_atomic

COLOUR_MODES = ("RGB", "RGBA", "RGBX", "CMYK", "YCbCr")  # colours, not ids
log = logging.getLogger(__name__)
GLOBAL_COLUMNS = ("J&F-Mean", "J-Mean", "J-Recall", "J-Decay", "F-Mean", "F-Recall", "F-Decay")


class EvaluationError(InputError):
    """A results folder cannot be scored; the message says which file and why."""


@dataclass(frozen=True)
class ObjectScore:
    sequence: str
    object_id: int
    J: tuple[float, ...]
    F: tuple[float, ...]
    in_first_frame: bool = True  # False: an id the first frame skips (1 and 3: id 2)

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
    try:
        with Image.open(path) as image:
            mode = image.mode
        ids = read_mask_as_ids(path)
    except (OSError, SyntaxError, ValueError) as exc:  # PIL: empty, truncated, not a PNG
        what = "zero-byte file" if path.stat().st_size == 0 else f"cannot decode it ({exc})"
        raise EvaluationError(f"{path}: {what}; write the result PNG again") from None
    if year == 2017 and mode in COLOUR_MODES:
        raise EvaluationError(f"{path}: an {mode} image; DAVIS 2017 results must be palette or "
                              "grey ids (each pixel its object's id); write them as palette PNGs")
    if ids.shape != gt_shape:
        raise EvaluationError(
            f"{path}: result size {ids.shape[1]}x{ids.shape[0]} differs from the ground truth "
            f"{gt_shape[1]}x{gt_shape[0]}; results must be at the original resolution"
        )
    return (ids > 0).astype(np.uint8) if year == 2016 else ids


def evaluate_sequence(results_dir: Path, name: str, masks: tuple[Path, ...], year: int) -> list[ObjectScore]:
    """Per-object per-frame J and F of one sequence (frames 1..N-2)."""
    if len(masks) < 3:
        raise EvaluationError(
            f"{Path(masks[0]).parent}: {len(masks)} annotated frame(s); the semi-supervised "
            "protocol scores frames 1..N-2, so a sequence needs at least 3"
        )
    gt = np.stack([read_mask(p, year) for p in masks])
    gt[gt == VOID] = 0
    num_objects = int(gt[0].max())
    if num_objects == 0:
        raise EvaluationError(
            f"{masks[0]}: the first ground-truth frame holds no object as DAVIS {year} reads it; "
            "nothing to score (is --year right for this root?)"
        )
    first = set(np.unique(gt[0]).tolist())
    gt = gt[1:-1]
    res = np.stack([_read_result(Path(results_dir) / name / Path(m).name, gt.shape[1:], year)
                    for m in masks[1:-1]])  # by frame name: ground truth may skip frames
    if int(res.max()) > num_objects:
        raise EvaluationError(
            f"{Path(results_dir) / name}: results hold object id {int(res.max())} but the first "
            f"ground-truth frame has only {num_objects} object(s); ids must be 1..{num_objects}"
        )
    scores = []
    for k in range(1, num_objects + 1):
        gt_k, res_k = gt == k, res == k
        j = db_eval_iou(gt_k, res_k)
        f = db_eval_boundary(gt_k, res_k)
        scores.append(ObjectScore(name, k, tuple(map(float, j)), tuple(map(float, f)), k in first))
    return scores


def _ground_truth(davis_root: Path, names: list[str] | None, split: str) -> dict[str, tuple[Path, ...]]:
    """Annotation files per sequence: those of ``split``, or of the named sequences, read
    straight from ``Annotations/480p/<seq>/`` as the toolkit does (no split file needed)."""
    if not names:
        return {s.name: s.masks for s in list_sequences(davis_root, (split,))}
    found = {n: tuple(sorted((davis_root / "Annotations" / "480p" / n).glob("*.png"))) for n in names}
    missing = [n for n, masks in found.items() if not masks]
    if missing:
        raise EvaluationError(
            f"{davis_root / 'Annotations' / '480p'}: no ground truth for sequence(s) "
            f"{', '.join(missing)}"
        )
    return found


def _year(davis_root: Path, first_mask: Path) -> int:
    """2017 or 2016 from the split folders, else from the masks (palette PNGs are 2017)."""
    try:
        return detect_year(davis_root)
    except DavisError:
        with Image.open(first_mask) as image:
            return 2017 if image.mode == "P" else 2016


def evaluate_folder(results_dir: Path, davis_root: Path, year: int | None = None,
                    sequences: list[str] | None = None, split: str = "val",
                    jobs: int | None = None) -> list[ObjectScore]:
    """Score every sequence of ``split`` (or ``sequences``) found under ``davis_root``,
    one process per sequence on up to ``jobs`` (default: all) cores."""
    if year not in (None, 2016, 2017):
        raise EvaluationError(f"year {year}: DAVIS evaluation knows 2016 (binary) and 2017 (ids)")
    davis_root = Path(davis_root)
    if not Path(results_dir).is_dir():
        raise EvaluationError(f"{results_dir}: no such results folder; give the folder holding "
                              "<sequence>/00000.png ...")
    gt = _ground_truth(davis_root, sequences, split)
    if not gt:
        raise EvaluationError(f"{davis_root}: split {split!r} lists no sequence to score")
    found = _year(davis_root, next(iter(gt.values()))[0])
    if year is not None and year != found:
        raise EvaluationError(
            f"{davis_root}: a DAVIS {found} root (split folders or masks), scored with year "
            f"{year}; drop --year (it is detected) or point to a DAVIS {year} root"
        )
    year = found
    jobs = min(len(gt), jobs or os.cpu_count() or 1)
    args = [(Path(results_dir), n, masks, year) for n, masks in gt.items()]
    if jobs <= 1:
        per_seq = [evaluate_sequence(*a) for a in args]
    else:
        with ProcessPoolExecutor(jobs) as pool:
            per_seq = list(pool.map(evaluate_sequence, *zip(*args)))
    scores = [score for seq in per_seq for score in seq]
    warn_absent_objects(scores)
    return scores


def warn_absent_objects(scores: list[ObjectScore]) -> None:
    """One warning per sequence whose first ground-truth frame skips an id (1 and 3): the
    toolkit scores id 2 as an object, which an empty result gets right (J = F = 1)."""
    absent: dict[str, list[str]] = {}
    for s in scores:
        if not s.in_first_frame:
            absent.setdefault(s.sequence, []).append(str(s.object_id))
    for name, ids in absent.items():
        log.warning(f"warning: sequence {name}: object id(s) {', '.join(ids)} absent from its "
                    "first ground-truth frame; scored as the official toolkit does (an empty "
                    "result scores 1.0, raising the means), metrics.json's J_and_F_present "
                    "leaves them out")


def run_evaluation(results_dir: Path, davis_root: Path, out_dir: Path, *, year: int | None = None,
                   sequences: list[str] | None = None, split: str = "val",
                   jobs: int | None = None) -> tuple[list[ObjectScore], dict]:
    """What ``sfvos evaluate`` and the evaluate stage both run: score, then write the
    toolkit's reports to ``out_dir``; returns the per-object scores and the global row."""
    scores = evaluate_folder(results_dir, davis_root, year, sequences, split, jobs)
    return scores, write_reports(scores, out_dir, split)


def global_row(scores: list[ObjectScore]) -> dict:
    """The toolkit's global row: means over objects; J&F = (J-Mean + F-Mean) / 2."""
    stats = [s.stats() for s in scores]
    row = {k: float(np.mean([s[k] for s in stats])) for k in GLOBAL_COLUMNS[1:]}
    return {"J&F-Mean": j_and_f(row["J-Mean"], row["F-Mean"]), **row}


def write_reports(scores: list[ObjectScore], out_dir: Path, split: str = "val") -> dict:
    """``global_results-<split>.csv``, ``per-sequence_results-<split>.csv`` (3 decimals as
    the toolkit) and ``results-<split>.json`` with full precision and per-frame values."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    g = global_row(scores)
    write_csv_atomic(out_dir / f"global_results-{split}.csv", GLOBAL_COLUMNS,
               [[f"{g[c]:.3f}" for c in GLOBAL_COLUMNS]])
    write_csv_atomic(out_dir / f"per-sequence_results-{split}.csv", ("Sequence", "J-Mean", "F-Mean"),
               [[s.name, f"{s.stats()['J-Mean']:.3f}", f"{s.stats()['F-Mean']:.3f}"] for s in scores])
    full = {
        "global": g,
        "objects": {s.name: {**s.stats(), "J": list(s.J), "F": list(s.F)} for s in scores},
    }
    write_json_atomic(out_dir / f"results-{split}.json", full, indent=1)
    return g
