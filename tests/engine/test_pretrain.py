"""Pretraining: checkpoints, resume after kill -9 to identical weights, DDP with 2 processes."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from pipeline.timing import FinetuneTiming
from tests.support import REPO, TINY_MODEL

RUN = """
import json, sys
from pipeline.engine.pretrain import PretrainConfig, pretrain
cache, work, out, curve, cfg = sys.argv[1:6]
pretrain(cache, work, out, curve, {model}, PretrainConfig(**json.loads(cfg)))
"""


def _run(tmp: Path, cache: Path, name: str, cfg: dict) -> subprocess.Popen:
    args = [sys.executable, "-c", RUN.format(model=repr(TINY_MODEL)), str(cache),
            str(tmp / f"{name}_work"), str(tmp / f"{name}.pth"), str(tmp / f"{name}.tsv"),
            json.dumps(cfg)]
    return subprocess.Popen(args, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            env=os.environ | {"PYTHONPATH": str(REPO)})


def _weights(path: Path) -> dict:
    return torch.load(path, weights_only=True)["state_dict"]


def test_kill9_then_resume_reaches_the_same_weights(tiny_cache, tmp_path):
    cfg = {"iters": 60, "checkpoint_interval": 10, "batch_size": 2, "clip_len": 4, "seed": 1}
    whole = _run(tmp_path, tiny_cache, "whole", cfg)
    assert whole.wait(timeout=300) == 0, whole.stderr.read().decode()[-2000:]

    first = _run(tmp_path, tiny_cache, "cut", cfg)
    ckpt = tmp_path / "cut_work" / "iter_10.pth"
    deadline = time.time() + 240
    while not ckpt.exists() and first.poll() is None and time.time() < deadline:
        time.sleep(0.02)
    assert first.poll() is None, "training finished before it could be killed"
    os.kill(first.pid, signal.SIGKILL)
    first.wait()
    assert not (tmp_path / "cut.pth").exists()

    second = _run(tmp_path, tiny_cache, "cut", cfg)
    assert second.wait(timeout=300) == 0, second.stderr.read().decode()[-2000:]
    a, b = _weights(tmp_path / "whole.pth"), _weights(tmp_path / "cut.pth")
    assert a.keys() == b.keys()
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=0, atol=0, msg=key)
    steps = [int(line.split("\t")[0]) for line in (tmp_path / "cut.tsv").read_text().splitlines()[1:]]
    assert steps == list(range(1, 61)), "the loss curve has one row per step after resume"


def test_changed_config_starts_afresh(tiny_cache, tmp_path):
    from pipeline.engine.pretrain import PretrainConfig, pretrain

    cfg = PretrainConfig(iters=2, checkpoint_interval=1, batch_size=1, clip_len=4)
    pretrain(tiny_cache, tmp_path / "w", tmp_path / "m.pth", tmp_path / "l.tsv", TINY_MODEL, cfg)
    assert (tmp_path / "w" / "iter_2.pth").exists()
    other = dict(TINY_MODEL, pathways="fast")
    pretrain(tiny_cache, tmp_path / "w", tmp_path / "m.pth", tmp_path / "l.tsv", other, cfg)
    ckpt = torch.load(tmp_path / "m.pth", weights_only=True)
    assert ckpt["model_cfg"]["pathways"] == "fast"
    assert not any(k.startswith("backbone.slow") for k in ckpt["state_dict"])


def test_pretraining_on_the_cpu_runs_channels_last_and_saves_contiguous_weights(tiny_cache, tmp_path):
    from mmengine.hooks import Hook

    from pipeline.engine.pretrain import PretrainConfig, pretrain

    seen = []

    class Layouts(Hook):
        def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
            model = runner.model
            seen.append((model.backbone.slow_pathway.stem[0].weight.is_contiguous(
                memory_format=torch.channels_last_3d), model.data_preprocessor.memory_format))

    cfg = PretrainConfig(iters=2, checkpoint_interval=2, batch_size=2, clip_len=4)
    pretrain(tiny_cache, tmp_path / "w", tmp_path / "m.pth", tmp_path / "l.tsv", TINY_MODEL, cfg,
             hooks=[Layouts()])
    assert seen == [(True, torch.channels_last_3d)] * 2
    weights = _weights(tmp_path / "m.pth")
    assert all(w.is_contiguous() for w in weights.values())


def test_trunk_lr_mult_scales_the_slow_stages_alone(tiny_cache, tmp_path):
    from mmengine.hooks import Hook

    from pipeline.engine.pretrain import PretrainConfig, pretrain

    rates = {}

    class Rates(Hook):
        def before_train(self, runner):
            names = {id(p): n for n, p in runner.model.named_parameters()}
            for group in runner.optim_wrapper.optimizer.param_groups:
                for p in group["params"]:
                    rates[names[id(p)]] = group["lr"]

    cfg = PretrainConfig(iters=1, checkpoint_interval=1, batch_size=1, clip_len=4,
                         scheduler="constant", lr=1e-3, trunk_lr_mult=0.1)
    pretrain(tiny_cache, tmp_path / "w", tmp_path / "m.pth", tmp_path / "l.tsv", TINY_MODEL, cfg,
             hooks=[Rates()])
    trunk = {n for n in rates if n.startswith("backbone.slow_pathway.stages.")}
    assert trunk and any(n.startswith("backbone.slow_pathway.stem") for n in rates)
    assert any(n.startswith("backbone.fast_pathway.stages.") for n in rates)
    for name, lr in rates.items():
        assert lr == pytest.approx(1e-4 if name in trunk else 1e-3), name


def test_optimizer_scheduler_and_augment_params_reach_the_runner_and_the_fingerprint(tiny_cache):
    from pipeline.data.transforms import ClipAugment
    from pipeline.engine.pretrain import PretrainConfig, _fingerprint, _param_scheduler

    default = PretrainConfig()
    # the defaults are the schedule pretraining always had: cosine from lr to lr / 100
    assert _param_scheduler(default) == [dict(type="CosineAnnealingLR", by_epoch=False,
                                              T_max=400, eta_min=2e-3 / 100)]
    assert _param_scheduler(PretrainConfig(scheduler="constant")) is None
    assert list(default.augment) == [
        {"type": "ClipRandomFlip", "prob": 0.5},
        {"type": "ClipColorJitter", "brightness": 0.2, "contrast": 0.2, "saturation": 0.2}]
    variants = [default, PretrainConfig(scheduler="constant"), PretrainConfig(optimizer="SGD"),
                PretrainConfig(augment=ClipAugment(colour=0.3)), PretrainConfig(trunk_lr_mult=0.1),
                PretrainConfig(prior_strength=2.0), PretrainConfig(cut_prob=0.3),
                PretrainConfig(ema_momentum=0.01), PretrainConfig(occluder_prob=0.3)]
    prints = {_fingerprint(tiny_cache, TINY_MODEL, cfg) for cfg in variants}
    assert len(prints) == len(variants)  # each restarts pretraining rather than resuming


def test_torchrun_two_processes_pretrain_and_finetune(tiny_cache, tiny_davis, tmp_path):
    """DDP pretraining (gloo, 2 CPU processes) then finetune sharded over 2 ranks."""
    params = {
        "model": TINY_MODEL,
        "pretrain": {"iters": 4, "checkpoint_interval": 2, "batch_size": 1, "clip_len": 4},
        "finetune": {"steps": 2, "batch_size": 1, "clip_len": 4},
        "decode": {"height": 32, "width": 48},
    }
    (tmp_path / "params.yaml").write_text(json.dumps(params))
    env = os.environ | {"PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2",
                "--master_port", str(29500 + os.getpid() % 1000)]
    pre = subprocess.run(
        torchrun + ["-m", "stages.pretrain", "--cache", str(tiny_cache), "--work-dir",
                    str(tmp_path / "work"), "--model-out", str(tmp_path / "model.pth"),
                    "--loss-curve", str(tmp_path / "loss.tsv"), "--params", str(tmp_path / "params.yaml")],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert pre.returncode == 0, pre.stderr[-3000:]
    assert (tmp_path / "model.pth").exists()
    fin = subprocess.run(
        torchrun + ["-m", "stages.finetune", "--cache", str(tiny_cache), "--davis", str(tiny_davis),
                    "--checkpoint", str(tmp_path / "model.pth"), "--results", str(tmp_path / "results"),
                    "--timing", str(tmp_path / "timing.json"), "--params", str(tmp_path / "params.yaml")],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert fin.returncode == 0, fin.stderr[-3000:]
    timing = FinetuneTiming.read(tmp_path / "timing.json")
    val = sorted(p.name for p in (tiny_davis / "JPEGImages" / "480p").iterdir() if "val" in p.name)
    assert sorted(timing.sequences) == val and timing.world_size == 2
    assert {t["rank"] for t in timing.sequences.values()} == {0, 1}
    for name in val:
        assert len(list((tmp_path / "results" / name).glob("*.png"))) == 8
    assert not list(tmp_path.glob("timing.rank*.json"))


def test_ema_momentum_saves_the_moving_average_of_the_weights(tiny_cache, tmp_path):
    """With ``ema_momentum`` the saved weights are mmengine's running average of every
    iteration's weights: between the start and the last iterate, not the last iterate."""
    from mmengine.hooks import Hook

    from pipeline.engine.pretrain import PretrainConfig, pretrain

    start, last = {}, {}

    class Record(Hook):
        def before_train(self, runner):
            start.update({k: v.detach().clone() for k, v in runner.model.state_dict().items()})

        def after_train(self, runner):
            last.update({k: v.detach().clone() for k, v in runner.model.state_dict().items()})

    cfg = PretrainConfig(iters=3, checkpoint_interval=3, batch_size=1, clip_len=4,
                         scheduler="constant", lr=1e-2, ema_momentum=0.5)
    pretrain(tiny_cache, tmp_path / "w", tmp_path / "m.pth", tmp_path / "l.tsv", TINY_MODEL, cfg,
             hooks=[Record()])
    saved = _weights(tmp_path / "m.pth")
    name = "backbone.slow_pathway.stem.0.weight"
    moved, towards = last[name] - start[name], saved[name] - start[name]
    assert moved.abs().max() > 0
    assert not torch.allclose(saved[name], last[name])  # not the last iterate
    # the average lies between the start and the last iterate
    assert (towards * moved).sum() > 0 and towards.norm() < moved.norm()
