"""The finetune timing record (``data/finetune/timing.json``): written by the finetune stage,
read by the evaluate stage for the compute and speed metrics. Its one definition."""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

from pipeline.errors import InputError
from pipeline.fileio import write_json_atomic


@dataclass(frozen=True)
class FinetuneTiming:
    """``sequences``: per sequence ``finetune_s``, ``predict_s``, ``predict_fps``,
    ``final_loss``, ``objects``, ``clips`` and ``mirrored`` (the clips predicted and the
    mirror images among them), and the ``rank`` that ran it; ``compute``: ``params``,
    ``gflops_per_clip``, ``gflops_per_frame`` (one clip per predicted frame and object, plus
    the share of them mirrored with ``test_flip``), ``crop_size``; ``world_size``: the
    processes that shared the sequences."""

    sequences: dict
    compute: dict
    world_size: int = 1

    def write(self, path: Path) -> None:
        write_json_atomic(path, asdict(self))

    @classmethod
    def read(cls, path: Path) -> FinetuneTiming:
        try:
            record = json.loads(Path(path).read_text())
            return cls(record["sequences"], record["compute"], record.get("world_size", 1))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise InputError(f"{path}: cannot read the finetune timings ({type(exc).__name__}); "
                             "run `dvc repro finetune`") from None

    def metrics(self) -> dict:
        """The compute metrics: params, GFLOPs per frame, mean prediction fps and mean
        fine-tuning seconds per sequence."""
        per_seq = list(self.sequences.values())
        count = max(len(per_seq), 1)
        return {
            "params": self.compute["params"],
            "gflops_per_frame": self.compute["gflops_per_frame"],
            "fps": sum(t["predict_fps"] for t in per_seq) / count,
            "finetune_s_per_seq": sum(t["finetune_s"] for t in per_seq) / count,
        }
