"""The helpers of the benchmark scripts whose figures go into the README and BENCHMARKS.md."""
import json
import threading

import numpy as np
import pytest

from benchmarks.bench_all import STUDIES, _parent_cfg, with_studies
from benchmarks.heldout import summary, weights_key
from benchmarks.long_video import ping_pong, strips
from benchmarks.pathway_designs import DESIGNS, design_cfg
from benchmarks.propagation_parts import WORKER, parts_table, timed


def test_ping_pong_plays_the_frames_back_and_forth_without_repeating_the_ends():
    assert ping_pong(10, 4) == [0, 1, 2, 3, 2, 1, 0, 1, 2, 3]
    assert ping_pong(3, 80) == [0, 1, 2]


@pytest.mark.parametrize("k", [1, 3, 5])
def test_strips_cut_the_object_into_k_objects_covering_exactly_its_pixels(k):
    mask = np.zeros((40, 60), np.uint8)
    mask[10:30, 7:52] = 1
    mask[12, 3] = 1  # a stray pixel left of the box still belongs to strip 1
    out = strips(mask, k)
    assert np.array_equal(out > 0, mask > 0)
    assert sorted(np.unique(out[out > 0]).tolist()) == list(range(1, k + 1))
    widths = [np.ptp(np.nonzero((out == i).any(0))[0]) + 1 for i in range(2, k)]  # inner strips
    assert all(abs(w - 49 / k) <= 1.5 for w in widths), widths


def test_summary_gives_mean_sd_and_range_over_seeds_per_folder_and_label(tmp_path):
    info = {"a": {"held_out": True, "attributes": ["FM"]}, "b": {"held_out": True, "attributes": []},
            "v": {"held_out": False, "attributes": []}}
    run = tmp_path / "slow" / "runs.jsonl"
    run.parent.mkdir()
    lines = [{"label": "x", "seed": 0, "per_sequence": {"a": 0.2, "b": 0.6, "v": 0.9}},
             {"label": "x", "seed": 1, "per_sequence": {"a": 0.9, "b": 0.9, "v": 0.9}},
             {"label": "x", "seed": 1, "per_sequence": {"a": 0.4, "b": 0.8, "v": 0.7}}]  # replaces
    run.write_text("\n".join(json.dumps(r) for r in lines))
    table = summary([run], info).splitlines()
    assert table[0] == "| label | seeds | held-out FM | held-out other | held-out | val |"
    cells = [c.strip() for c in table[2].split("|")[1:-1]]
    assert cells[:2] == ["slow/x", "0,1"]
    assert cells[2] == "0.300 ± 0.141 (0.200-0.400)"  # FM: 0.2 and 0.4
    assert cells[4] == "0.500 ± 0.141 (0.400-0.600)"  # held-out: (0.2+0.6)/2, (0.4+0.8)/2
    assert cells[5] == "0.800 ± 0.141 (0.700-0.900)"
    val_only = {"v": info["v"]}  # a DAVIS root without held-out sequences: no empty columns
    assert summary([run], val_only).splitlines()[0] == "| label | seeds | val |"


def test_stored_weights_are_named_by_what_changes_training_only(tmp_path):
    from dataclasses import replace

    from pipeline.engine.osvos import FinetuneConfig

    parent = tmp_path / "parent.pth"
    parent.write_bytes(b"weights")
    cfg = FinetuneConfig()
    key = weights_key(parent, cfg, "bus")
    assert key == weights_key(parent, replace(cfg, test_flip=False, flip_uncertain=0.0), "bus")
    assert key == weights_key(parent, replace(cfg, blend=0.5), "bus")  # blended after the store
    assert key != weights_key(parent, replace(cfg, paste_prob=0.5), "bus")
    assert key != weights_key(parent, replace(cfg, cut_prob=0.3), "bus")
    assert key != weights_key(parent, replace(cfg, seed=1), "bus") != weights_key(parent, cfg, "car")
    parent.write_bytes(b"other weights")
    assert key != weights_key(parent, cfg, "bus")


def test_make_bench_rewrites_its_tables_and_keeps_the_studies_written_by_hand(tmp_path):
    out = tmp_path / "BENCHMARKS.md"
    assert with_studies("# new tables\n", out) == f"# new tables\n\n{STUDIES}\n"
    out.write_text(f"# old tables\n\n{STUDIES}\n\n## A study\n\nfigures\n")
    assert with_studies("# new tables\n", out) == f"# new tables\n\n{STUDIES}\n\n## A study\n\nfigures\n"
    out.write_text("# tables and studies, no line between them\n")
    with pytest.raises(SystemExit, match="no line"):
        with_studies("# new tables\n", out)


class _Worker:
    calls = 0

    def work(self, x):
        _Worker.calls += 1
        return 2 * x

    @staticmethod
    def helper(x):
        return x + 1


def test_timed_adds_each_calls_time_to_its_part_and_puts_the_function_back():
    seconds = {}
    original = _Worker.__dict__["helper"]
    with timed(_Worker, "work", seconds, "work"), timed(_Worker, "helper", seconds, "work"):
        assert _Worker().work(3) == 6 and _Worker.helper(3) == 4 and _Worker().helper(1) == 2
    assert seconds["work"] > 0 and _Worker.calls == 1
    assert _Worker.__dict__["helper"] is original and _Worker().work.__name__ == "work"
    before = seconds["work"]
    _Worker().work(1)
    assert seconds["work"] == before  # no longer timed
    with timed(_Worker, "work", seconds, "work"):
        worker = threading.Thread(target=_Worker().work, args=(1,))
        worker.start()
        worker.join()
    assert seconds["work"] == before and seconds[WORKER, "work"] > 0  # another thread's time apart


def test_parts_table_gives_ms_per_frame_shares_and_the_rest():
    rows = parts_table({"the network": 3.0, "the optical flow": 1.0, (WORKER, "the optical flow"): 0.8},
                       total=5.0, frames=100)
    assert rows[2] == "| the network | 30.0 | 60 % | 0.0 |"
    assert rows[3] == "| the optical flow | 10.0 | 20 % | 8.0 |"
    assert rows[4] == "| the appearance check | 0.0 | 0 % | 0.0 |"
    assert rows[5].endswith("| 10.0 | 20 % | |")  # the rest
    assert rows[6] == "| **all, per predicted frame** | **50.0** | 20.0 frames/s | |"


def test_each_pathway_design_is_the_profiles_model_but_for_what_it_names():
    profile = _parent_cfg()
    before = repr(profile)
    for label, (pathways, backbone) in DESIGNS.items():
        cfg = design_cfg(pathways, backbone)
        assert cfg["pathways"] == pathways, label
        assert {k: v for k, v in cfg["backbone"].items() if k not in backbone and k != "slow_pathway"} \
            == {k: v for k, v in profile["backbone"].items() if k not in backbone and k != "slow_pathway"}
        assert all(cfg["backbone"][k] == v for k, v in backbone.items())
        slow = profile["backbone"]["slow_pathway"]
        assert cfg["backbone"]["slow_pathway"] == (dict(slow, init="none") if "init" in slow else slow)
        assert {k: v for k, v in cfg.items() if k not in ("pathways", "backbone")} \
            == {k: v for k, v in profile.items() if k not in ("pathways", "backbone")}
    assert repr(profile) == before  # the shipped parent's config is not changed in place


def test_bench_segment_ratio_is_the_median_of_the_pairs_run_turn_about(tmp_path, monkeypatch):
    """Each default run is divided by the `--steps 0` run just before it (not by another
    row's runs): pairs (10, 25), (12, 24), (8, 30) s give 2.5, 2.0 and 3.75, median 2.50."""
    import benchmarks.bench_all as bench

    times = {"steps0": iter([10.0, 12.0, 8.0]), "default": iter([25.0, 24.0, 30.0])}

    def run(cmd, cwd=None):
        if "--appearance-vote" in cmd or "--checkpoint" in cmd or "--flip" in cmd:
            return 5.0, 100.0  # the other rows
        return next(times["steps0" if "--steps" in cmd else "default"]), 100.0

    monkeypatch.setattr(bench, "_run", run)
    monkeypatch.setattr(bench, "_video", lambda davis, tmp: (tmp / "v.mp4", tmp / "m.png", 80))
    monkeypatch.setattr(bench, "save_model", lambda *a, **k: None)
    monkeypatch.setattr(bench, "build_segmenter", lambda cfg: None)
    rows = bench.bench_segment(tmp_path, tmp_path, runs=3)
    assert rows[-1].startswith("| ratio: `segment` / `segment --steps 0`, median of 3 pairs run "
                               "turn about (2.00-3.75) | | 2.50x |")
    assert any(r.startswith("| `segment --steps 0` (shipped parent), ") and "| 10.0 | 8.0 |" in r
               for r in rows)
    assert any(r.startswith("| `segment` (defaults: ") and "| 25.0 | 3.2 |" in r for r in rows)
