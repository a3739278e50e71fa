"""params.yaml is checked before any work: one line naming the key, exit 2; one set of defaults."""
from __future__ import annotations

from dataclasses import asdict

import pytest
import yaml

from pipeline.errors import ConfigError
from stages import decode, download, evaluate, finetune, pretrain
from stages.params import SECTIONS, load_params
from tests.support import committed_params, repo_params, set_key

STAGES = {"download": download.main, "decode": decode.main, "pretrain": pretrain.main,
          "finetune": finetune.main, "evaluate": evaluate.main}
CASES = {
    # name: (stage, key, value, the words its one error line must hold)
    "typo in decode": ("decode", "decode.heigth", 96, "decode.heigth: unknown key; did you mean decode.height?"),
    "typo in evaluate": ("evaluate", "evaluate.overlay", 3, "did you mean evaluate.overlays?"),
    "typo in pretrain": ("pretrain", "pretrain.iter", 10, "did you mean pretrain.iters?"),
    "typo in download.synthetic": ("download", "download.synthetic.num_vall", 2,
                                   "did you mean download.synthetic.num_val?"),
    "typo in a model part": ("pretrain", "model.backbone.alpah", 2, "did you mean model.backbone.alpha?"),
    "zero working height": ("decode", "decode.height", 0, "decode.height: 0 must be >= 16"),
    "negative working width": ("decode", "decode.width", -8, "decode.width: -8 must be >= 16"),
    "working size under 16": ("decode", "decode.height", 12, "decode.height: 12 must be >= 16"),
    "zero pretrain iters": ("pretrain", "pretrain.iters", 0, "pretrain.iters: 0 must be >= 1"),
    "negative finetune steps": ("finetune", "finetune.steps", -5, "finetune.steps: -5 must be >= 0"),
    "shrinking search box": ("finetune", "finetune.search_growth", 0.5,
                             "finetune.search_growth: 0.5 must be >= 1.0"),
    "fraction above 1": ("finetune", "finetune.static_prob", 1.5, "finetune.static_prob: 1.5 must be in [0, 1]"),
    "appearance vote above 1": ("finetune", "finetune.appearance_vote", 2,
                                "finetune.appearance_vote: 2.0 must be in [0, 1]"),
    "edge window beyond the frame": ("finetune", "finetune.edge_refine", 2,
                                     "finetune.edge_refine: 2.0 must be in [0, 1]"),
    "negative refind area": ("finetune", "finetune.refind_area", -0.3,
                             "finetune.refind_area: -0.3 must be >= 0"),
    "motion check beyond the frame": ("finetune", "finetune.motion_check", 2,
                                      "finetune.motion_check: 2.0 must be in [0, 1]"),
    "negative appearance update": ("finetune", "finetune.appearance_update", -5,
                                   "finetune.appearance_update: -5 must be >= 0"),
    "text for a number": ("pretrain", "pretrain.lr", "fast", "pretrain.lr: expected a number, got 'fast'"),
    "number for a list": ("pretrain", "model.backbone.slow_pathway.widths", 8,
                          "model.backbone.slow_pathway.widths: expected a list of numbers"),
    "typo in a pathway": ("pretrain", "model.backbone.slow_pathway.width", [8, 16],
                          "did you mean model.backbone.slow_pathway.widths?"),
    "ImageNet init of the light pathway": ("pretrain", "model.backbone.slow_pathway.init", "imagenet",
                                           "model.backbone.slow_pathway.init: unknown key"),
    "unknown ImageNet init": ("pretrain", "model.backbone.slow_pathway",
                              {"type": "EfficientNetLite0Pathway", "init": "imagenett"},
                              "model.backbone.slow_pathway.init: 'imagenett' is not one of none, imagenet"),
    "fast pathway widths": ("pretrain", "model.backbone.fast_pathway.widths", [4, 4],
                            "model.backbone.fast_pathway.widths: set by model.backbone, not in params.yaml"),
    "fast pathway stages": ("pretrain", "model.backbone.fast_pathway.depths", [1, 1, 1],
                            "fast_pathway: depths needs one entry per stage of the slow pathway (2)"),
    "unknown pathways": ("pretrain", "model.pathways", "bogus",
                         "model.pathways: 'bogus' is not one of slow, fast, slowfast"),
    "unknown model type": ("pretrain", "model.decoder.type", "Nope", "model.decoder.type: 'Nope' is not a registered"),
    "crop too small for the network": ("pretrain", "model.crop_size", 4, "crop_size must be >= 8"),
    "pretrain clip shorter than alpha": ("pretrain", "pretrain.clip_len", 1,
                                         "pretrain.clip_len: 1 frames is shorter than model.backbone.alpha=2"),
    "finetune clip shorter than alpha": ("pretrain", "finetune.clip_len", 1,
                                         "finetune.clip_len: 1 frames is shorter than model.backbone.alpha=2"),
    "unknown optimizer": ("finetune", "finetune.optimizer", "Adamm", "finetune.optimizer: 'Adamm' is not one of"),
    "unknown pretrain optimizer": ("pretrain", "pretrain.optimizer", "Adamm",
                                   "pretrain.optimizer: 'Adamm' is not one of"),
    "unknown scheduler": ("pretrain", "pretrain.scheduler", "cosin",
                          "pretrain.scheduler: 'cosin' is not one of cosine, constant"),
    "typo in an augmentation": ("pretrain", "pretrain.augment.color", 0.2,
                                "did you mean pretrain.augment.colour?"),
    "flip probability above 1": ("finetune", "finetune.augment.flip", 1.5,
                                 "finetune.augment.flip: 1.5 must be in [0, 1]"),
    "negative colour jitter": ("pretrain", "pretrain.augment.colour", -0.1,
                               "pretrain.augment.colour: -0.1 must be in [0, 1]"),
    "unknown source": ("download", "download.source", "davis2018", "download.source: 'davis2018' is not one of"),
    "unknown split": ("evaluate", "evaluate.split", "bogus", "evaluate.split: 'bogus' is not one of train, val"),
    "missing section": ("decode", "decode", ..., "missing section(s) decode"),
    "infinite crop scale": ("finetune", "finetune.predict_context_scale", float("inf"),
                            "finetune.predict_context_scale: inf is not a finite number"),
    "NaN fraction": ("finetune", "finetune.static_prob", float("nan"),
                     "finetune.static_prob: nan is not a finite number"),
    "NaN learning rate": ("finetune", "finetune.lr", float("nan"), "finetune.lr: nan is not a finite"),
    "infinite weight decay": ("pretrain", "pretrain.weight_decay", float("inf"),
                              "pretrain.weight_decay: inf is not a finite number"),
    "NaN colour jitter": ("pretrain", "pretrain.augment.colour", float("nan"),
                          "pretrain.augment.colour: nan is not a finite number"),
    "NaN fast fraction": ("download", "download.synthetic.fast_fraction", float("nan"),
                          "download.synthetic.fast_fraction: nan is not a finite number"),
    "NaN model context": ("pretrain", "model.context", float("nan"), "model.context: nan is not a finite"),
}


@pytest.mark.parametrize("case", CASES)
def test_bad_params_one_line_naming_the_key_before_any_work(case, run_stage, tmp_path):
    stage, key, value, words = CASES[case]
    outputs = {"decode": dict(davis=tmp_path / "davis", out=tmp_path / "cache"),
               "download": dict(out=tmp_path / "davis", archives=tmp_path / "archives"),
               "pretrain": dict(cache=tmp_path / "cache", work_dir=tmp_path / "work",
                                model_out=tmp_path / "m.pth", loss_curve=tmp_path / "l.tsv"),
               "finetune": dict(cache=tmp_path / "cache", davis=tmp_path / "davis",
                                checkpoint=tmp_path / "m.pth", results=tmp_path / "res",
                                timing=tmp_path / "t.json"),
               "evaluate": dict(results=tmp_path / "res", davis=tmp_path / "davis",
                                cache=tmp_path / "cache", timing=tmp_path / "t.json",
                                out=tmp_path / "ev", overlays=tmp_path / "ev" / "o",
                                metrics=tmp_path / "metrics.json", plots=tmp_path / "plots",
                                loss_curve=tmp_path / "l.tsv")}[stage]
    code, err = run_stage(STAGES[stage], set_key(repo_params(), key, value), **outputs)
    assert code == 2 and len(err) == 1 and err[0].startswith("error: "), err
    assert words in err[0], err[0]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["params.yaml"]  # nothing written


def test_invalid_yaml_is_one_line_with_its_line_number(tmp_path, capsys):
    path = tmp_path / "params.yaml"
    path.write_text("decode:\n  height: 96\n width: [\n")
    with pytest.raises(SystemExit) as exit_:
        decode.main(davis=tmp_path / "d", out=tmp_path / "c", params=path)
    err = capsys.readouterr().err.strip().splitlines()
    assert exit_.value.code == 2 and len(err) == 1 and "not valid YAML (line" in err[0]


def test_a_duplicate_key_is_one_line_naming_it_and_its_lines(tmp_path, capsys):
    path = tmp_path / "params.yaml"
    path.write_text("decode:\n  height: 96\n  width: 160\n  height: 64\n")
    assert yaml.safe_load(path.read_text())["decode"]["height"] == 64  # YAML takes the last
    with pytest.raises(SystemExit) as exit_:
        decode.main(davis=tmp_path / "d", out=tmp_path / "c", params=path)
    err = capsys.readouterr().err.strip().splitlines()
    assert exit_.value.code == 2 and len(err) == 1, err
    assert "params.yaml: decode.height is set twice (lines 2 and 4); keep one" in err[0]


def test_a_bad_model_config_keeps_the_resume_checkpoints(run_stage, tiny_cache, tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    (work / "iter_100.pth").write_bytes(b"resume me")
    code, err = run_stage(pretrain.main, set_key(repo_params(), "model.pathways", "bogus"),
                          cache=tiny_cache, work_dir=work, model_out=tmp_path / "m.pth",
                          loss_curve=tmp_path / "l.tsv")
    assert code == 2 and "model.pathways" in err[-1]
    assert (work / "iter_100.pth").read_bytes() == b"resume me"


def test_pretrain_library_checks_the_model_before_it_clears_the_work_dir(tiny_cache, tiny_model_cfg, tmp_path):
    from pipeline.engine.pretrain import PretrainConfig
    from pipeline.engine.pretrain import pretrain as run_pretrain

    (tmp_path / "work").mkdir()
    (tmp_path / "work" / "iter_2.pth").write_bytes(b"resume me")
    with pytest.raises(ValueError, match="crop_size"):
        run_pretrain(tiny_cache, tmp_path / "work", tmp_path / "m.pth", tmp_path / "l.tsv",
                     dict(tiny_model_cfg, crop_size=4), PretrainConfig(iters=1))
    assert (tmp_path / "work" / "iter_2.pth").exists()


def test_params_yaml_writes_the_dataclass_defaults():
    """One set of defaults: a key left out of params.yaml means what params.yaml documents."""
    written = committed_params()
    for section, cls in SECTIONS.items():
        defaults = {k: v for k, v in asdict(cls()()).items() if k in written[section]}
        assert yaml.safe_load(yaml.safe_dump(defaults)) == written[section], section
    assert set(SECTIONS) == set(written) - {"model"}  # every stage section has its dataclass


def test_a_deleted_key_takes_the_documented_default(tmp_path):
    documented = committed_params()["pretrain"]["iters"]
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(set_key(repo_params(), "pretrain.iters", ...)))
    assert load_params(path, "pretrain")["pretrain"].iters == documented == 400


def test_yaml_floats_without_a_dot_are_numbers(tmp_path):
    """`dvc exp run -S pretrain.lr=1e-3` writes 1e-3, which PyYAML reads as a string."""
    path = tmp_path / "params.yaml"
    path.write_text("pretrain:\n  lr: 1e-3\n")
    assert load_params(path, "pretrain")["pretrain"].lr == pytest.approx(1e-3)
    path.write_text("pretrain:\n  iters: true\n")
    with pytest.raises(ConfigError, match="pretrain.iters: expected an integer, got True"):
        load_params(path, "pretrain")
