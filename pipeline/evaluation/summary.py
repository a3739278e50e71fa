"""Metrics for DVC: the global measures plus breakdowns by attribute and measured speed."""
from __future__ import annotations

import numpy as np

from pipeline.evaluation.evaluate import ObjectScore
from pipeline.evaluation.measures import j_and_f


def _jf(scores: list[ObjectScore]) -> float | None:
    if not scores:
        return None
    stats = [s.stats() for s in scores]
    return float(j_and_f(np.mean([s["J-Mean"] for s in stats]),
                         np.mean([s["F-Mean"] for s in stats])))


def summarize(scores: list[ObjectScore], global_row: dict, sequences: dict[str, dict]) -> dict:
    """``sequences`` maps a name to its ``attributes`` and ``speed`` (from the cache index).

    J&F on fast-motion (DAVIS tag FM) and other sequences, and per tercile of the measured
    speed (slow / mid / fast thirds of the evaluated sequences, by speed). Where some val
    sequences are held-out train sequences (``held_out``, the download stage's
    ``download.holdout``), J&F over them (``J_and_F_heldout``, with their FM / other split)
    and over the rest (``J_and_F_val``) too. Where the first ground-truth frame of a sequence
    skips an object id (1 and 3), which the toolkit scores as an object (an empty result
    scores 1.0), J&F over the objects that exist too (``J_and_F_present``).
    """
    metrics = {
        "J_and_F": global_row["J&F-Mean"],
        "J_mean": global_row["J-Mean"],
        "J_recall": global_row["J-Recall"],
        "J_decay": global_row["J-Decay"],
        "F_mean": global_row["F-Mean"],
        "F_recall": global_row["F-Recall"],
        "F_decay": global_row["F-Decay"],
        "num_objects": len(scores),
        "num_sequences": len({s.sequence for s in scores}),
    }
    fm = [s for s in scores if "FM" in sequences.get(s.sequence, {}).get("attributes", ())]
    other = [s for s in scores if s not in fm]
    metrics["J_and_F_FM"] = _jf(fm)
    metrics["J_and_F_nonFM"] = _jf(other)
    held = [s for s in scores if sequences.get(s.sequence, {}).get("held_out")]
    if held:
        metrics["J_and_F_heldout"] = _jf(held)
        metrics["J_and_F_heldout_FM"] = _jf([s for s in held if s in fm])
        metrics["J_and_F_heldout_nonFM"] = _jf([s for s in held if s not in fm])
        metrics["J_and_F_val"] = _jf([s for s in scores if s not in held])
    if any(not s.in_first_frame for s in scores):
        present = [s for s in scores if s.in_first_frame]
        metrics["J_and_F_present"] = _jf(present)
        metrics["num_objects_present"] = len(present)
    names = sorted({s.sequence for s in scores}, key=lambda n: sequences.get(n, {}).get("speed", 0.0))
    for label, part in zip(("slow", "mid", "fast"), np.array_split(np.array(names, dtype=object), 3)):
        chosen = set(part.tolist())
        metrics[f"J_and_F_speed_{label}"] = _jf([s for s in scores if s.sequence in chosen])
    return metrics


def per_sequence_rows(scores: list[ObjectScore]) -> list[dict]:
    """One row per object for the per-sequence J&F bar plot."""
    rows = []
    for s in scores:
        st = s.stats()
        rows.append({"object": s.name, "J_and_F": j_and_f(st["J-Mean"], st["F-Mean"]),
                     "J": st["J-Mean"], "F": st["F-Mean"]})
    return rows


def j_over_time_rows(scores: list[ObjectScore]) -> list[dict]:
    """One row per (object, frame) for the J-over-time line plot (frame 1..N-2)."""
    return [{"object": s.name, "frame": t + 1, "J": j} for s in scores for t, j in enumerate(s.J)]
