"""``sfvos segment``: segment a user's own video from the mask of its first frame
(:func:`pipeline.engine.segment.segment_video`)."""
from pathlib import Path
from typing import Optional

import typer

from stages.common import one_line_errors


@one_line_errors
def main(
    input: Path = typer.Argument(..., help="video file (mp4, avi, mov) or folder of frames"),
    mask: list[str] = typer.Option(..., "--mask", help="PNG mask of frame 0 (palette ids, "
                                   "0/255 binary or coloured objects on black); repeat as "
                                   "--mask N:PATH for a mask at frame N: its new ids are tracked "
                                   "from there, its known ids reset (a correction)"),
    out: Path = typer.Option(..., "--out", help="folder for PNGs, overlay.mp4, areas.csv (new, "
                             "empty or an earlier result, which is replaced)"),
    checkpoint: Optional[Path] = typer.Option(
        None, help="weights written by the pipeline (default: the shipped DAVIS 2016 parent)"),
    steps: int = typer.Option(100, help="fine-tune steps on frame 0 (0 = checkpoint as is)"),
    batch_size: int = typer.Option(
        2, help="fine-tuning clips per step (4: more accurate on held-out DAVIS, for 1.6-1.8x "
        "the fine-tuning time, README)"),
    frozen_scales: int = typer.Option(
        3, help="backbone scales that keep the checkpoint's weights while fine-tuning (0 = "
        "adapt them all: 3.5x slower steps, for networks that are not trained parents)"),
    flip: bool = typer.Option(False, "--flip/--no-flip",
                              help="average with the mirrored video's prediction (off: it no longer "
                              "changes held-out J&F, README)"),
    flip_uncertain: float = typer.Option(
        0.1, help="with --flip, mirror only the clips uncertain on at least this share of their "
        "pixels (0 = every clip: up to 2x network time)"),
    bf16: bool = typer.Option(False, "--bf16", help="predict in bfloat16 (faster on CPUs with AMX)"),
    appearance_vote: float = typer.Option(
        0.1, help="drop a part of an object's mask when under this share of its pixels look like "
        "the object in its given mask (0 = off)"),
    appearance_update: int = typer.Option(
        10, help="every this many frames, an object that looks like itself adds its view to the "
        "appearance check (0 = its given view alone)"),
    refind_area: float = typer.Option(
        0.3, help="find a lost object again where the frame's largest region that looks like it "
        "is at least this times its given area (0 = off)"),
    edge_refine: float = typer.Option(
        0.012, help="move the masks' edges onto the frame's colour edges, windows of this times "
        "the frame's diagonal (0 = off: the network's own outline)"),
    motion_check: float = typer.Option(
        0.002, help="drop new mask pixels that move with the scene around an object rather than "
        "with it, where the two motions differ by at least this times the frame's diagonal a "
        "frame (0 = off)"),
    pathways: Optional[str] = typer.Option(None, help="require a slow|fast|slowfast checkpoint"),
    height: Optional[int] = typer.Option(
        None, help="working height: taller frames are resized to it (default 480; with --width "
        "alone, from the aspect ratio)"),
    width: Optional[int] = typer.Option(None, help="working width (default: keep aspect)"),
    device: str = typer.Option("cpu", help="cpu or cuda"),
    per_object: bool = typer.Option(False, "--per-object",
                                    help="also a folder object_<id>/ of 0/255 PNGs per object"),
) -> None:
    """Segment your own video from the mask of its first frame."""
    from dataclasses import replace

    from pipeline.engine.osvos import FinetuneConfig
    from pipeline.engine.segment import segment_video
    from pipeline.runtime import retain_freed_memory
    from pipeline.weights import PARENT_CHECKPOINT

    retain_freed_memory()

    cfg = replace(FinetuneConfig(), steps=steps, batch_size=batch_size, frozen_scales=frozen_scales, test_flip=flip,
                  flip_uncertain=flip_uncertain, predict_bf16=bf16, appearance_vote=appearance_vote,
                  refind_area=refind_area, appearance_update=appearance_update,
                  edge_refine=edge_refine, motion_check=motion_check)
    summary = segment_video(input, [mask_at(m) for m in mask], checkpoint or PARENT_CHECKPOINT,
                            out, cfg, height, width, device, pathways, per_object)
    typer.echo(
        f"segmented {summary['frames']} frames, {summary['objects']} object(s) in "
        f"{summary['seconds']:.1f} s ({summary['fps']:.1f} frames/s); outputs in {out}/ "
        "(00000.png..., overlay.mp4, areas.csv)"
    )


def mask_at(option: str) -> tuple[int, Path]:
    """``--mask PATH`` (frame 0) or ``--mask N:PATH`` -> (N, PATH)."""
    frame, sep, path = option.partition(":")
    if sep and frame.isdigit():
        return int(frame), Path(path)
    return 0, Path(option)
