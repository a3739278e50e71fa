"""PNG figures of the key plots, for readers without ``dvc plots show`` (whose HTML pulls
vega from a CDN): per-object J&F, J over time and the pretraining loss curve."""
from __future__ import annotations

import csv
from collections import defaultdict
from pathlib import Path

from pipeline.fileio import atomic_path


def _save(fig, path: Path) -> None:
    with atomic_path(path, keep_suffix=True) as tmp:
        fig.savefig(tmp, dpi=110, bbox_inches="tight")


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def per_object_bars(rows: list[dict], path: Path) -> None:
    """Horizontal bars of J&F (with J and F) per object (rows of ``per_sequence_rows``)."""
    plt = _pyplot()
    names = [r["object"] for r in rows]
    fig, ax = plt.subplots(figsize=(6, 0.35 * len(rows) + 1.2))
    y = range(len(rows))
    ax.barh([i + 0.27 for i in y], [r["J"] for r in rows], height=0.27, label="J")
    ax.barh([i for i in y], [r["J_and_F"] for r in rows], height=0.27, label="J&F")
    ax.barh([i - 0.27 for i in y], [r["F"] for r in rows], height=0.27, label="F")
    ax.set_yticks(list(y), names)
    ax.set_xlim(0, 1)
    ax.invert_yaxis()
    ax.set_xlabel("score")
    ax.legend(loc="lower right", fontsize="small")
    ax.set_title("Per object (DAVIS measures)")
    _save(fig, path)
    plt.close(fig)


def j_over_time(rows: list[dict], path: Path) -> None:
    """One line of J per frame for each object (rows of ``j_over_time_rows``)."""
    plt = _pyplot()
    series: dict[str, list[tuple[int, float]]] = defaultdict(list)
    for r in rows:
        series[r["object"]].append((r["frame"], r["J"]))
    fig, ax = plt.subplots(figsize=(7, 3.5))
    for name, points in series.items():
        ax.plot([p[0] for p in points], [p[1] for p in points], label=name, linewidth=1.2)
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("frame")
    ax.set_ylabel("J")
    ax.set_title("Region similarity over time")
    if len(series) <= 12:
        ax.legend(fontsize="x-small", ncol=2)
    _save(fig, path)
    plt.close(fig)


def loss_curve(tsv: Path, path: Path) -> None:
    """The pretraining loss per step from the ``step<TAB>loss`` file of the pretrain stage."""
    plt = _pyplot()
    with Path(tsv).open() as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    steps = [int(r["step"]) for r in rows]
    losses = [float(r["loss"]) for r in rows]
    fig, ax = plt.subplots(figsize=(6, 3))
    ax.plot(steps, losses, linewidth=0.8, alpha=0.5, label="loss")
    k = max(1, len(losses) // 20)
    smooth = [sum(losses[max(0, i - k + 1): i + 1]) / len(losses[max(0, i - k + 1): i + 1])
              for i in range(len(losses))]
    ax.plot(steps, smooth, linewidth=1.6, label=f"mean of {k}")
    ax.set_xlabel("iteration")
    ax.set_ylabel("training loss")
    ax.set_title("Pretraining")
    ax.legend(fontsize="small")
    _save(fig, path)
    plt.close(fig)
