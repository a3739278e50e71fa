"""``make bench``: the speed figures of BENCHMARKS.md, measured on this machine in one run.

Not a test: run it on an idle machine (on 2 cores a second process slows torch many times
over). Every figure is a median of ``--runs`` runs (one run for ``--flip`` with fine-tuning). It needs
``../shared/data/davis2016-dev`` (or ``--davis``): an 80-frame 854x480 train sequence is
written as an mp4 for the end-to-end runs (speed only: the parent saw it in training).

    PYTHONPATH=. python benchmarks/bench_all.py [--runs 3] [--out BENCHMARKS.md]

What it measures (the real-DAVIS profile's model: 160-pixel crops, Lite0 slow pathway):
- ``sfvos segment --steps 0`` end to end (process start, video decode, propagation, PNG and
  mp4 writing) in frames/s, per pathway (random weights of that pathway's architecture:
  speed does not depend on the values, but their masks fill the frames), with the process's
  peak RSS; then with the shipped parent (its real masks: what a user runs), with and
  without the appearance check (``--appearance-vote 0``);
- ``sfvos segment`` with its default fine-tuning and the shipped parent, and its time over
  ``--steps 0``'s (what adapting costs a user): ``--runs`` pairs run turn about, the median
  of the pairs' ratios;
- ``sfvos segment --steps 0`` on 600 frames (the steady-state rate, start-up cancelled) and
  with 1, 3 and 5 objects (:mod:`benchmarks.long_video`);
- where propagation's time goes after the default fine-tuning, part by part
  (:mod:`benchmarks.propagation_parts`);
- the network of each design the pathway question compares, as propagation runs it
  (:mod:`benchmarks.pathway_designs`);
- pretraining frames/s (batch 8 of 8-frame clips, the profile's recipe);
- the J and F code of ``pipeline.evaluation`` against a literal re-statement of the DAVIS
  toolkit's definitions (``tests/evaluation/davis_reference.py``) on the same masks;
- the decoded npz cache against JPEG decoding;
- the network's achieved GFLOP/s against a large Conv3d's on this CPU (a roofline ratio);
- each ``dvc.yaml`` stage's wall time and peak RSS on the synthetic default (one run).

``--out`` is rewritten up to its :data:`STUDIES` line; what follows it (studies written by
hand, each with its date and machine) is kept as it is. A file without that line is not
overwritten.
"""
from __future__ import annotations

import argparse
import functools
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pipeline.data.cache import decode, load_arrays  # noqa: E402
from pipeline.data.davis import read_frame, read_mask  # noqa: E402
from pipeline.engine.checkpoint import load_weights, save_model  # noqa: E402
from pipeline.engine.osvos import FinetuneConfig  # noqa: E402
from pipeline.evaluation.measures import db_eval_iou, f_measure  # noqa: E402
from pipeline.fileio import write_text_atomic  # noqa: E402
from pipeline.models.complexity import complexity  # noqa: E402
from pipeline.models.fusion import fused_for_inference  # noqa: E402
from pipeline.models.segmenter import build_segmenter  # noqa: E402
from pipeline.weights import PARENT_CHECKPOINT  # noqa: E402
from tests.evaluation import davis_reference  # noqa: E402

SEQUENCE = "bus"  # 80 frames, 854x480, in the DAVIS 2016 train split
CHANGES = [  # each speed change with its measured effect (kept in BENCHMARKS.md)
    "`visualize.blend` mixes only object pixels (float math on whole 480p frames was a third "
    "of an 80-frame `segment --steps 0` under cProfile): 0.45 s instead of 1.3-3.7 s per 80 "
    "frames in a fresh process, identical output. End to end within run-to-run noise.",
    "Test-time flip (a quality change, on by default: J&F +0.01 to +0.04 on DAVIS 2016 val): "
    "every predicted frame runs the clip and its mirror image, twice the network's work.",
    "Propagation decodes only the frame it predicts (`mode=\"predict_last\"`; the decoder is "
    "per frame but for one (3,3,3) conv): 0.70 instead of 1.45 GFLOPs per 160-pixel clip. With "
    "BatchNorm folded into the convs and channels-last weights and clips "
    "(`pipeline/models/fusion.py`), the flipped clip pair of the shipped parent takes 33 ms "
    "instead of 94 ms (interleaved medians, one process), outputs equal within 2e-6. "
    "`segment --steps 0` on the 80-frame mp4: 12.5 s with the flip, against 16.2 s before "
    "without it.",
    "bfloat16 autocast for prediction (`--bf16`, `finetune.predict_bf16`; this CPU has AMX): "
    "the full flipped clip pair 43 ms vs 72 ms in float32; J&F -0.0004 to -0.004 over three "
    "fine-tuned networks on DAVIS 2016 val, so it is opt-in.",
    "`visualize.blend` frame by frame: with random weights (these rows) the masks fill the "
    "frames, and the float copies of a whole video's object pixels took over 1 GB; "
    "`segment --steps 0` slowfast 17.9 s / 2.38 GB peak before, 13.4 s / 0.78 GB after "
    "(single runs); same output.",
    "`torch.compile` of the prediction copy (inductor, this machine's g++): 28 ms vs 32 ms "
    "per flipped clip pair after 34 s of compilation; an 80-frame video would save 0.3 s, "
    "so it is not used.",
    "Tried and not kept: writing the overlay mp4 in a thread beside the PNGs (8.4-8.6 s vs "
    "8.5-8.6 s by the command's own clock): ffmpeg already encodes in its own process.",
    "The class of the soft aggregation's largest probability is taken without computing the "
    "probabilities (the logit and the softmax are increasing): 2.2 ms instead of 13.5 ms per "
    "854x480 frame for one object (5.5 vs 18.9 ms for three), the same masks. Frames already "
    "at the working size are no longer resized (PIL copied them, 0.29 s per 80 frames). "
    "overlay.mp4 with x264's veryfast preset: 0.50 s instead of 1.19 s for 80 frames, the "
    "same file size. `segment --steps 0` with the shipped parent on the 80-frame mp4: 10.3 s "
    "-> 8.2 s (two runs each), identical PNGs.",
    "Profiled with torch.profiler (the flipped clip pair, shipped parent): convolutions are "
    "75 % of the network's time, and the fast pathway's stem alone 27 %: 8.0 ms for 0.4 "
    "GMACs (4 -> 4 channels, a 5x7x7 kernel on 8 frames of 160 px; oneDNN cannot vectorise "
    "over 4 channels). Padding its channels to 8 or 16, the NCDHW layout, or unfolding time "
    "into channels for a 2D conv took 7.2 to 46 ms; under bfloat16 it takes 2.4 ms (`--bf16`). "
    "The per-frame (1,k,k) convs run as 2D convs over frames folded into the batch: 29.0 vs "
    "27.9 ms per pair, not kept.",
    "Cheaper fine-tuning steps (issue 22; measured on a 2-core AMD EPYC without AMX, the "
    "held-out protocol's photos parent, batch 2 of 8-frame 160-pixel clips): torch.profiler "
    "put 76 % of a step's forward and backward time in the convs' backward pass, 7x their "
    "forward, most of it in the fast "
    "stem's weight gradient (4 -> 4 channels, 5x7x7: 123 ms) and the depthwise convs. The loss "
    "decodes only the labelled frame 0 (the same loss and gradients), and the convs run "
    "channels-last on the CPU (oneDNN's depthwise backward about 2x faster): 0.98 -> 0.51 s "
    "a step, the same results up to float rounding. `finetune.frozen_scales=3` stops the "
    "backward pass at the 1/16 stage: 0.28 s a step, fine-tuning 27 s instead of 97 s a "
    "sequence, the same held-out J&F over three seeds (0.650 vs 0.647). Which share each "
    "part saves depends on the CPU: the backward convs' cost is oneDNN's on this one.",
    "Cheaper propagation, the same masks (issue 22; a 2-core AMD EPYC without AMX, the shipped "
    "parent, bus played back and forth): the fast stem as one 2-D conv per frame over its 5 "
    "temporal taps x 4 channels (`layers.temporal_taps_conv3d`, 9-10 ms instead of 19-20 for the flipped "
    "pair: 4 output channels left most of each AVX2 vector empty), glibc malloc keeping freed "
    "memory (`pipeline.runtime`; the network 8-10 % faster without refaulting its activations), "
    "slow features gathered only for the decoded frames, clips normalised through a cv2.LUT "
    "table in the network's channels-last layout and mirrored as bytes, the prior channel "
    "interleaved by cv2.merge, no whole-frame stacks, the palette built once, PNGs at zlib "
    "level 1, the overlay blended in the objects' box. Steady state after start-up 6.45 -> 7.8 "
    "frames/s (600 -> 3000 frames), 1.3-1.4x with both versions run turn about; held-out J&F "
    "identical to the fourth decimal. Not kept: DIS patch stride 6 (flow 8.5 ms cheaper, "
    "held-out J&F 0.646 vs 0.650, lower at each of 3 seeds), flow on a region around the "
    "objects (nothing on bus), 1x1x1 convs as addmm (no gain), TorchScript freezing (-12 % "
    "network, but a second of tracing and a deprecated API).",
    "Channels-last pretraining on the CPU (`ChannelsLastHook`; a 2-core AMD EPYC without AMX, "
    "batch 8 of 8-frame 160-pixel clips, photos and video, one step's forward, backward and "
    "AdamW update, medians of 6 steps, the two layouts run turn about in fresh processes): "
    "slowfast 4.41 -> 3.46 s a step (1.28x), slow alone 2.99 / 3.05 -> 2.60 / 2.44 s (1.19x). "
    "The same losses up to float rounding (`tests/models/test_segmenter.py`); the saved weights "
    "are contiguous. How much it saves depends on oneDNN's kernels for this CPU.",
    "Test-time flip off by default (2026-12-02, a quality decision of the held-out protocol: "
    "0.752 with and without it): the shipped parent fine-tuned on bus mirrored 279 of 299 "
    "clips; propagation 72-81 ms a frame without the mirror images against 108-121 with them "
    "(2-core AMD EPYC, one process, bus played to 300 frames). The motion check's flow distances "
    "on the new pixels only and parts labelled in the mask's rectangle: the same masks.",
    "What bounds the end-to-end rate on 2 cores (the shipped parent, 80 frames, 8.2 s): "
    "imports 1.8 s (torch 0.8 s; mmengine.model pulls torch.distributed's optimizers, 0.65 s), "
    "reading the mp4 0.7 s, the network 2.5 s (32 ms per flipped pair), optical flow 0.7 s, "
    "crops, blending, PNG and mp4 writing about 2 s.",
    "Propagation in threads (issue 22; 2026-12-03, a 2-core AMD EPYC with AVX-512, without "
    "AMX): the next frame's flow on a worker thread while the network runs (torch one thread "
    "fewer with one object), the appearance memory's update behind the next frames, each "
    "frame's output drawn "
    "and written on the writer's thread. The default `segment` on the 600-frame bus mp4: "
    "steady state 1.18-1.26x by round against the version before (three rounds turn about), "
    "the same PNGs, overlay and areas byte for byte (\"Propagation in threads\" below).",
    "Tried and not kept (issue 22; 2026-12-03, a 2-core AMD EPYC with AVX-512 and "
    "avx512_bf16, no AMX): the appearance check's nearest-neighbour matches in bfloat16 "
    "(queries and kept features cast, oneDNN's bf16 products where the CPU has them). Alone, "
    "the largest match (2,400 cells against 30,000 kept features) takes 64 instead of 176 ms;"
    " in propagation (`benchmarks/propagation_parts.py`, bus to 300 frames) the matches fall "
    "from 10.0 to 6.8-7.5 ms a frame on the main thread and from 9.5 to 4.0-4.7 on the "
    "memory's update thread. Held-out J&F the same (six stored networks of two parents, "
    "predicted again: 0.741 against 0.740; by network 0.764 / 0.749 / 0.759 / 0.728 / 0.716 /"
    " 0.730 against 0.772 / 0.748 / 0.754 / 0.719 / 0.716 / 0.729; of the seed-0 parent's "
    "sequences only bmx-bumps moves more than 0.013, both ways), but the default `segment`"
    " on the 600-frame bus mp4 (steady state, six rounds turn about against the version "
    "before) gained nothing measurable: 1.10 / 0.95 / 1.09 / 1.00 / 0.98 / 1.02x by round "
    "(12.6-15.9 frames/s). Not worth results that would then differ between CPUs with and "
    "without bfloat16 products.",
    "Tried and not kept: the matches in smaller chunks of the kept features "
    "(`appearance._nearest`, 2048 rows at a time; the same results at any chunk): 256 rows "
    "0.86x and 128 rows 0.80x the time for the largest match, no change at the sizes most "
    "matches have (300-600 cells): 0-10 %, not measurable end to end after the bfloat16 "
    "result above.",
]


def _machine() -> str:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    return (f"{cpu}, {os.cpu_count()} cores, torch {torch.__version__} "
            f"({torch.get_num_threads()} threads), Python {platform.python_version()}")


def _run(cmd: list[str], cwd: Path | None = None) -> tuple[float, float]:
    """Wall seconds and peak RSS (MB) of one child process.

    The peak RSS comes from GNU time (``/usr/bin/time -f %M``): a child forked from this
    process inherits its memory high-water mark at ``exec`` (Linux), so ``wait4`` here would
    report at least this process's own size. Without GNU time it is NaN. The child's stderr
    goes to a temp file: a pipe nobody reads blocks a child whose progress bars fill it.
    """
    gnu_time = Path("/usr/bin/time")
    with tempfile.TemporaryDirectory() as d:
        rss_file, err_file = Path(d) / "rss", Path(d) / "err"
        full = ([str(gnu_time), "-f", "%M", "-o", str(rss_file)] if gnu_time.exists() else []) + cmd
        with err_file.open("wb") as err:
            t0 = time.perf_counter()
            status = subprocess.run(full, stdout=subprocess.DEVNULL, stderr=err, cwd=cwd).returncode
            wall = time.perf_counter() - t0
        if status != 0:
            raise SystemExit(f"failed: {' '.join(cmd)}\n{err_file.read_text(errors='replace')[-2000:]}")
        rss = int(rss_file.read_text().split()[-1]) / 1024 if rss_file.exists() else float("nan")
    return wall, rss


def _video(davis: Path, tmp: Path) -> tuple[Path, Path, int]:
    import imageio.v2 as imageio

    frames = sorted((davis / "JPEGImages" / "480p" / SEQUENCE).glob("*.jpg"))
    video = tmp / f"{SEQUENCE}.mp4"
    with imageio.get_writer(video, fps=24, quality=9, macro_block_size=1) as w:
        for f in frames:
            w.append_data(read_frame(f))
    return video, davis / "Annotations" / "480p" / SEQUENCE / "00000.png", len(frames)


@functools.cache
def _parent_cfg() -> dict:
    return load_weights(PARENT_CHECKPOINT)["model_cfg"]


def _profile_cfg(pathways: str) -> dict:
    return dict(_parent_cfg(), pathways=pathways)


def bench_segment(davis: Path, tmp: Path, runs: int) -> list[str]:
    video, mask, n = _video(davis, tmp)
    sfvos = [str(Path(sys.executable).with_name("sfvos")), "segment", str(video), "--mask", str(mask)]
    rows = ["| run | frames | wall s (median) | frames/s | peak RSS MB |", "|---|---|---|---|---|"]
    for pathways in ("slowfast", "slow", "fast"):
        torch.manual_seed(0)
        ckpt = tmp / f"{pathways}.pth"
        save_model(ckpt, build_segmenter(_profile_cfg(pathways)), _profile_cfg(pathways))
        # the two prediction switches on the default model only
        for flags in ([], ["--flip"], ["--bf16"]) if pathways == "slowfast" else ([],):
            got = [_run(sfvos + ["--out", str(tmp / f"seg_{pathways}{''.join(flags)}_{i}"),
                                 "--steps", "0", *flags, "--checkpoint", str(ckpt)])
                   for i in range(runs)]
            wall = statistics.median(g[0] for g in got)
            rows.append(f"| `segment --steps 0{''.join(' ' + f for f in flags)}`, {pathways} | {n} | "
                        f"{wall:.1f} | {n / wall:.1f} | {max(g[1] for g in got):.0f} |")
    shipped = _parent_cfg()["pathways"]
    # what a user runs (real masks, not random ones), with and without fine-tuning, turn about:
    # this machine's speed drifts by 10-20 % over minutes, and their ratio is of one pair's runs
    got, tuned = [], []
    for i in range(runs):
        got.append(_run(sfvos + ["--out", str(tmp / f"seg_parent_{i}"), "--steps", "0"]))
        tuned.append(_run(sfvos + ["--out", str(tmp / ("seg_ft" if i == 0 else f"seg_ft_{i}"))]))
    wall0 = statistics.median(g[0] for g in got)
    rows.append(f"| `segment --steps 0` (shipped parent), {shipped} | {n} | {wall0:.1f} | "
                f"{n / wall0:.1f} | {max(g[1] for g in got):.0f} |")
    novote = [_run(sfvos + ["--out", str(tmp / f"seg_parent_novote_{i}"), "--steps", "0", "--appearance-vote", "0"])
              for i in range(runs)]  # what the appearance check of split masks costs
    wall = statistics.median(g[0] for g in novote)
    rows.append(f"| `segment --steps 0 --appearance-vote 0` (shipped parent), {shipped} | {n} | {wall:.1f} | "
                f"{n / wall:.1f} | {max(g[1] for g in novote):.0f} |")
    # the test-time flip where a clip is uncertain, the default until 2026-12-02
    wall_all, rss = _run(sfvos + ["--out", str(tmp / "seg_ft_flip"), "--flip"])
    rows.append(f"| `segment --flip` ({FinetuneConfig().steps} steps, shipped parent), {shipped} | "
                f"{n} | {wall_all:.1f} | {n / wall_all:.1f} | {rss:.0f} |")
    wall = statistics.median(g[0] for g in tuned)
    rows.append(f"| `segment` (defaults: {FinetuneConfig().steps} steps, shipped parent), {shipped} | "
                f"{n} | {wall:.1f} | {n / wall:.1f} | {max(g[1] for g in tuned):.0f} |")
    ratios = sorted(t[0] / g[0] for t, g in zip(tuned, got))
    rows.append(f"| ratio: `segment` / `segment --steps 0`, median of {runs} pairs run turn about "
                f"({ratios[0]:.2f}-{ratios[-1]:.2f}) | | {statistics.median(ratios):.2f}x | | |")
    return rows


def bench_pretrain(cache: Path, runs: int) -> list[str]:
    from torch.utils.data import default_collate

    from pipeline.data.dataset import PropagationClipDataset
    from pipeline.data.transforms import ClipAugment

    cfg = _profile_cfg("slowfast")
    data = PropagationClipDataset(str(cache), "train", 8, 1, list(ClipAugment()),
                                  crop_size=cfg["crop_size"])
    model = build_segmenter(cfg).train()
    optim = torch.optim.AdamW(model.parameters(), 2e-3)
    rng, times = np.random.default_rng(0), []
    for _ in range(runs + 1):
        t0 = time.perf_counter()
        batch = default_collate([data[int(rng.integers(len(data)))] for _ in range(8)])
        loss = sum(model(**model.data_preprocessor(batch, True), mode="loss").values())
        optim.zero_grad()
        loss.backward()
        optim.step()
        times.append(time.perf_counter() - t0)
    s = statistics.median(times[1:])
    return [f"| pretraining, batch 8 x 8 frames at 160 px (data included) | {s:.2f} s/iteration | "
            f"{64 / s:.1f} frames/s |"]


def bench_evaluate(davis: Path, results: Path, runs: int) -> list[str]:
    gts = [read_mask(p, 2016) for p in sorted((davis / "Annotations" / "480p" / SEQUENCE).glob("*.png"))]
    preds = [read_mask(p, 2017) > 0 for p in sorted(results.glob("*.png"))]
    pairs = [(p, g == 1) for p, g in zip(preds, gts)]

    def ours():
        return [(float(db_eval_iou(g, p)), f_measure(p, g)) for p, g in pairs]

    def reference():
        return [(davis_reference.jaccard(p, g), davis_reference.f_measure(p, g)) for p, g in pairs]

    out = {}
    for name, fn in (("ours", ours), ("reference", reference)):
        times = []
        for _ in range(runs):
            t0 = time.perf_counter()
            out[name] = fn()
            times.append(time.perf_counter() - t0)
        out[name + "_s"] = statistics.median(times)
    diff = float(np.abs(np.array(out["ours"]) - np.array(out["reference"])).max())
    return [f"| J and F of {len(pairs)} frames, `pipeline.evaluation` | {out['ours_s']:.2f} s | "
            f"{out['reference_s'] / out['ours_s']:.1f}x the reference ({out['reference_s']:.2f} s); "
            f"largest score difference {diff:.1e} |"]


def bench_stages(tmp: Path) -> list[str]:
    """Each ``dvc.yaml`` stage's command, in order, on a clone of this repository (the
    synthetic default): wall seconds and the process's peak RSS."""
    import yaml

    work = tmp / "project"
    subprocess.run(["git", "clone", "-q", str(ROOT), str(work)], check=True)
    stages = yaml.safe_load((work / "dvc.yaml").read_text())["stages"]
    python = str(Path(sys.executable))
    rows = ["| stage (synthetic default) | wall s | peak RSS MB |", "|---|---|---|"]
    for name, stage in stages.items():
        cmd = stage["cmd"].split()
        wall, rss = _run([python if c == "python" else c for c in cmd], cwd=work)
        rows.append(f"| {name} | {wall:.1f} | {rss:.0f} |")
    return rows


def bench_cache(davis: Path, cache: Path, runs: int) -> list[str]:
    frames = sorted((davis / "JPEGImages" / "480p" / SEQUENCE).glob("*.jpg"))
    name = sorted(cache.glob("*.npz"))[0].stem
    jpeg, npz = [], []
    for _ in range(runs):
        t0 = time.perf_counter()
        n_jpeg = len([read_frame(f) for f in frames])
        jpeg.append(n_jpeg / (time.perf_counter() - t0))
        t0 = time.perf_counter()
        n_npz = len(load_arrays(cache, name)[0])
        npz.append(n_npz / (time.perf_counter() - t0))
    j, c = statistics.median(jpeg), statistics.median(npz)
    return [f"| frames of 854x480: npz cache vs JPEG decoding | {c:.0f} vs {j:.0f} frames/s | "
            f"{c / j:.1f}x |"]


def bench_roofline(runs: int) -> list[str]:
    conv = torch.nn.Conv3d(64, 64, 3, padding=1).eval()
    x = torch.randn(1, 64, 8, 56, 56)
    model = build_segmenter(_profile_cfg("slowfast")).eval()
    fast = fused_for_inference(model)
    s = model.crop_size
    clip = model.data_preprocessor({"inputs": torch.randint(0, 255, (1, 4, 8, s, s)).float()}, False)["inputs"]
    pair = torch.cat([clip, clip.flip(-1)]).contiguous(memory_format=torch.channels_last_3d)
    gflops = complexity(model, 8, s, s)["gflops_per_clip"]
    gflops_last = complexity(model, 8, s, s, mode="predict_last")["gflops_per_clip"]
    with torch.inference_mode():
        def median(fn):
            fn()
            ts = []
            for _ in range(max(runs, 5)):
                t0 = time.perf_counter()
                fn()
                ts.append(time.perf_counter() - t0)
            return statistics.median(ts)
        conv_s = median(lambda: conv(x))
        model_s = median(lambda: model(clip, mode="predict"))
        pair_s = median(lambda: fast(pair, mode="predict_last"))
        with torch.autocast("cpu", dtype=torch.bfloat16):
            bf16_s = median(lambda: fast(pair, mode="predict_last"))
    peak = 2 * 64 * 64 * 27 * 8 * 56 * 56 / conv_s / 1e9
    got, got_pair = gflops / model_s, 2 * gflops_last / pair_s
    return [f"| Conv3d 64->64, 3x3x3, 8x56x56 (this CPU's conv throughput) | {peak:.1f} GFLOP/s | |",
            f"| the slowfast network, one 8-frame clip of {s} px, every frame decoded | {got:.1f} GFLOP/s "
            f"({gflops:.2f} GFLOPs in {model_s * 1000:.0f} ms) | {got / peak:.0%} of the conv |",
            f"| as propagation runs it: the clip and its mirror image, last frame decoded, BN folded, "
            f"channels-last | {got_pair:.1f} GFLOP/s ({2 * gflops_last:.2f} GFLOPs in {pair_s * 1000:.0f} ms) "
            f"| {got_pair / peak:.0%} of the conv |",
            f"| the same under bfloat16 autocast (`--bf16`) | {bf16_s * 1000:.0f} ms | "
            f"{pair_s / bf16_s:.2f}x float32 |"]


STUDIES = ("<!-- Studies below: written by hand, dated, with their machine; "
           "`make bench` keeps them as they are. -->")


def with_studies(generated: str, out: Path) -> str:
    """``generated`` followed by the :data:`STUDIES` line and what follows it in ``out``
    (nothing when ``out`` does not exist yet)."""
    if not out.exists():
        return f"{generated.rstrip()}\n\n{STUDIES}\n"
    old = out.read_text()
    at = old.find(STUDIES)
    if at < 0:
        raise SystemExit(f"{out}: no line {STUDIES!r}, so its hand-written studies cannot be told "
                         "from the measured tables; put that line before them, or give --out a new file")
    return f"{generated.rstrip()}\n\n{old[at:]}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--davis", type=Path, default=ROOT.parent / "shared/data/davis2016-dev/DAVIS")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--out", type=Path, default=ROOT / "BENCHMARKS.md")
    args = ap.parse_args()
    with_studies("", args.out)  # a file it would refuse to rewrite is refused now, not after the runs
    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        sample = ROOT.parent / "shared/data/davis2016-sample/DAVIS"
        cache = decode(sample if sample.is_dir() else args.davis, tmp / "cache", (480, 854))
        print("segment ...", flush=True)
        segment = bench_segment(args.davis, tmp, args.runs)
        print("long video, objects ...", flush=True)
        from benchmarks.long_video import bench_long  # it imports this module's helpers
        long = bench_long(args.davis, tmp, lengths=(80, 600), objects=(1, 3, 5))
        print("propagation's parts ...", flush=True)
        from benchmarks.propagation_parts import bench_parts
        parts = bench_parts(args.davis, frames=300)
        print("pathway designs ...", flush=True)
        from benchmarks.pathway_designs import bench_designs
        designs = bench_designs()
        print("stages ...", flush=True)
        stages = bench_stages(tmp)
        print("pretrain, evaluate, cache, roofline ...", flush=True)
        other = (bench_pretrain(cache, args.runs) + bench_evaluate(args.davis, tmp / "seg_ft", args.runs)
                 + bench_cache(args.davis, cache, args.runs) + bench_roofline(args.runs))
    text = "\n".join([
        "# Benchmarks", "",
        f"Measured by `make bench` (`PYTHONPATH=. python benchmarks/bench_all.py --runs {args.runs}`) "
        f"on {started}: {_machine()}. Medians of {args.runs} runs; see the script's docstring "
        "for what each row measures.", "",
        f"## End to end: `sfvos segment` on an 854x480 mp4 ({SEQUENCE}, the real-DAVIS profile's model)", "",
        *segment, "", "## Long videos and several objects (`benchmarks/long_video.py`)", "",
        "The 80 frames played back and forth to 600; frame 0's object cut into 1, 3 or 5 "
        "vertical strips, each an object; `--steps 0`, the shipped parent.", "",
        *long, "", "## Where propagation's time goes (`benchmarks/propagation_parts.py`)", "",
        f"The 80 frames played back and forth to 300, the shipped parent fine-tuned with the "
        f"defaults ({FinetuneConfig().steps} steps), one object, in one process, nothing written, "
        "the next frame's flow and the appearance memory's update on worker threads as in "
        "`sfvos segment`; each part timed around the functions that do it, on the main "
        "thread (the frame's critical path) and on the workers beside it.", "",
        *parts, "", "## The pathway question's networks (`benchmarks/pathway_designs.py`)", "",
        "Each design of the held-out tables (README) as propagation runs it: the profile's "
        "model, random weights, BN folded, channels-last, one 8-frame clip, its last frame "
        "decoded.", "", *designs, "",
        "## The pipeline's stages, one run each", "", *stages, "",
        "## Parts", "", "| what | measured | ratio |", "|---|---|---|", *other, "",
        "## Changes and their effect", "", *[f"- {c}" for c in CHANGES], "",
    ])
    text = with_studies(text, args.out)
    write_text_atomic(args.out, text)
    print(text)


if __name__ == "__main__":
    main()
