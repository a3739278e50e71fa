"""Lost work and silent failures in training: resume of finetune, NaN/inf loss, a changed
local source, outputs DVC must not delete."""
from __future__ import annotations

import os

import numpy as np
import pytest
import torch
import yaml
from torch import nn

from pipeline.data.source import source_fingerprint
from pipeline.engine import vos
from pipeline.engine.osvos import FinetuneConfig
from pipeline.engine.checkpoint import save_model
from pipeline.errors import TrainingDivergedError
from pipeline.models import build_segmenter
from pipeline.models.losses import CrossEntropyLoss
from pipeline.registry import MODELS
from tests.support import REPO, TINY_MODEL

SMALL = FinetuneConfig(steps=2, batch_size=1, clip_len=4)


@MODELS.register_module(force=True)
class NanAfterLoss(CrossEntropyLoss):
    """Cross-entropy that turns NaN from its ``after + 1``-th call on (a test's divergence)."""

    def __init__(self, after: int = 2, **kwargs):
        super().__init__(**kwargs)
        self.after, self.calls = after, 0

    def forward(self, logits, target):
        self.calls += 1
        loss = super().forward(logits, target)
        return loss * float("nan") if self.calls > self.after else loss


def _pngs(results):
    return {p.relative_to(results).as_posix(): p.read_bytes() for p in sorted(results.rglob("*.png"))}


def test_finetune_after_a_kill_redoes_only_the_interrupted_sequence(tiny_cache, tiny_davis, checkpoint,
                                                                    tmp_path, monkeypatch):
    whole = vos.run_split(tiny_cache, tiny_davis, checkpoint, tmp_path / "whole", SMALL)
    names = sorted(whole)
    assert len(names) == 2
    done, real = [], vos.segment_sequence

    def killed_on_the_second(*args, **kwargs):
        if done:
            raise KeyboardInterrupt  # the kill, in the middle of the second sequence
        done.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(vos, "segment_sequence", killed_on_the_second)
    with pytest.raises(KeyboardInterrupt):
        vos.run_split(tiny_cache, tiny_davis, checkpoint, tmp_path / "cut", SMALL)
    (tmp_path / "cut" / "stale-old-sequence").mkdir()  # from an earlier split: removed
    calls = []
    monkeypatch.setattr(vos, "segment_sequence", lambda *a, **k: calls.append(1) or real(*a, **k))
    again = vos.run_split(tiny_cache, tiny_davis, checkpoint, tmp_path / "cut", SMALL)
    assert len(calls) == 1  # the finished sequence is kept, the interrupted one redone
    assert _pngs(tmp_path / "cut") == _pngs(tmp_path / "whole")  # same results, byte for byte
    assert sorted(again) == names  # the kept sequence's timings come from its stamp
    assert [again[n]["final_loss"] for n in names] == [whole[n]["final_loss"] for n in names]
    assert sorted(p.name for p in (tmp_path / "cut").iterdir()) == names
    other = FinetuneConfig(steps=3, batch_size=1, clip_len=4)  # other params: all redone
    vos.run_split(tiny_cache, tiny_davis, checkpoint, tmp_path / "cut", other)
    assert len(calls) == 3


def test_nan_loss_stops_pretraining_at_the_step_and_keeps_the_last_good_checkpoint(tiny_cache, tmp_path):
    from pipeline.engine.pretrain import PretrainConfig, pretrain

    model = dict(TINY_MODEL, loss={"type": "NanAfterLoss", "after": 3})
    cfg = PretrainConfig(iters=6, checkpoint_interval=1, batch_size=1, clip_len=4)
    with pytest.raises(TrainingDivergedError, match=r"pretrain step 4: the loss is nan; .*iter_3\.pth"):
        pretrain(tiny_cache, tmp_path / "w", tmp_path / "m.pth", tmp_path / "l.tsv", model, cfg)
    assert sorted(p.name for p in (tmp_path / "w").glob("iter_*.pth")) == ["iter_2.pth", "iter_3.pth"]
    assert not (tmp_path / "m.pth").exists()
    state = torch.load(tmp_path / "w" / "iter_3.pth", weights_only=False)["state_dict"]
    assert all(torch.isfinite(v).all() for v in state.values() if v.is_floating_point())


def test_nan_loss_stops_finetuning_at_the_step(tiny_cache, tiny_davis, tmp_path):
    model = dict(TINY_MODEL, loss={"type": "NanAfterLoss", "after": 1})
    save_model(tmp_path / "m.pth", build_segmenter(model), model)
    with pytest.raises(TrainingDivergedError, match="^sequence .*: finetune step 2: the loss is nan"):
        vos.run_split(tiny_cache, tiny_davis, tmp_path / "m.pth", tmp_path / "res", SMALL)
    assert not [p for p in (tmp_path / "res").iterdir() if not p.name.endswith(".tmp")]


def test_a_repaired_local_copy_changes_the_source_fingerprint(tmp_path):
    root = tmp_path / "DAVIS"
    (root / "JPEGImages").mkdir(parents=True)
    frame = root / "JPEGImages" / "00000.jpg"
    frame.write_bytes(b"corrupt")
    before = source_fingerprint("local", str(root))
    assert source_fingerprint("local", str(root)) == before  # untouched: DVC re-runs nothing
    frame.write_bytes(b"the repaired frame")
    os.utime(frame, ns=(1, 1))
    repaired = source_fingerprint("local", str(root))
    assert repaired["digest"] != before["digest"] and repaired["files"] == 1
    assert source_fingerprint("synthetic", None) == {"source": "synthetic"}


def test_dvc_yaml_reruns_download_on_a_changed_source_and_keeps_what_a_kill_or_failure_must_not_lose():
    stages = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]
    assert stages["source"]["always_changed"] and "data/source.json" in stages["download"]["deps"]
    assert {"data/results": {"persist": True}} in stages["finetune"]["outs"]
    kept = [out for kind in ("metrics", "plots") for out in stages["evaluate"][kind]]
    kept += stages["pretrain"]["plots"]
    for out in kept:  # git-tracked (cache: false): DVC must not delete them before a run
        ((name, opts),) = out.items()
        assert opts["persist"] is True, name
