"""Still photos made into pretraining clips, and the held-out protocol's split: both enter
through the download stage's DAVIS root and the decoded cache."""
import numpy as np
import pytest
from PIL import Image

from pipeline.data.cache import decode, sequence_table
from pipeline.data.davis import DavisError, list_sequences
from pipeline.data.download import held_out_names, install_dataset
from pipeline.data.photos import find_pairs, load_photos, pass_occluder, photo_clip
from pipeline.errors import ConfigError, InputError
from pipeline.registry import DATASETS, build
from tests.support import make_root


def make_photos(root, count=3, size=(40, 56)):
    """``count`` photos of a bright disc on noise, with their masks, in one set."""
    rng = np.random.default_rng(0)
    (root / "set" / "images").mkdir(parents=True)
    (root / "set" / "masks").mkdir(parents=True)
    yy, xx = np.mgrid[0:size[0], 0:size[1]]
    for i in range(count):
        mask = (yy - 20) ** 2 + (xx - 20 - 4 * i) ** 2 < 100
        image = rng.integers(0, 100, size + (3,), dtype=np.uint8)
        image[mask] = (250, 200, 40)
        Image.fromarray(image).save(root / "set" / "images" / f"p{i}.jpg")
        Image.fromarray(mask).save(root / "set" / "masks" / f"p{i}.png")  # 1-bit, as shipped
    return root


@pytest.fixture
def photos_root(tmp_path):
    return make_photos(tmp_path / "photos")


def test_photos_and_holdout_reach_the_cache(tmp_path, photos_root):
    src = make_root(tmp_path / "src", sequences=(("dog-agility", "train", 5), ("bear", "train", 4),
                                                  ("blackswan", "val", 4)))
    root = install_dataset("local", tmp_path / "davis", path=str(src), holdout=("bear",),
                           photos=str(photos_root))
    assert [(s.name, s.split) for s in list_sequences(root)] == [
        ("dog-agility", "train"), ("blackswan", "val"), ("bear", "val")]
    assert held_out_names(root) == {"bear"}
    cache = decode(root, tmp_path / "cache", (16, 24))
    table = {s["name"]: s["held_out"] for s in sequence_table(cache)}
    assert table == {"dog-agility": False, "blackswan": False, "bear": True}
    photos = load_photos(cache)
    assert len(photos) == 3
    image, mask = photos[1]
    assert image.shape == (40, 56, 3) and mask.shape == (40, 56)
    assert mask.sum() > 250 and image[mask == 1].mean(axis=0)[0] > 200  # the disc, aligned


def test_a_photo_clip_moves_the_object_and_keeps_its_mask_on_it(photos_root, tmp_path):
    src = make_root(tmp_path / "src")
    cache = decode(install_dataset("local", tmp_path / "davis", path=str(src),
                                   photos=str(photos_root)), tmp_path / "cache", (16, 24))
    photos = load_photos(cache)
    rng = np.random.default_rng(1)
    for _ in range(6):
        frames, masks = photo_clip(photos, 0, 5, rng)
        assert frames.shape == (5, 40, 56, 3) and masks.shape == (5, 40, 56)
        assert set(np.unique(masks)) <= {0, 1} and masks[-1].any()
        # the mask stays on the yellow disc (inside, away from the feathered edge)
        inner = np.stack([m & np.roll(m, 2, 0) & np.roll(m, -2, 0) & np.roll(m, 2, 1) & np.roll(m, -2, 1)
                          for m in masks]).astype(bool)
        assert frames[inner][:, 2].mean() < 90 and frames[inner][:, 0].mean() > 200
    ds = build(DATASETS, dict(type="PropagationClipDataset", cache_dir=str(cache), clip_len=4,
                              crop_size=16, photo_prob=1.0))
    item = ds[0]
    assert item["inputs"].shape == (4, 4, 16, 16) and (item["data_samples"] == 1).any()


def test_an_occluder_passes_in_front_and_hides_what_it_covers():
    """A photo's object moved across a clip of crops: drawn over the frames, labelled
    background where it covers the target, void left void, and moving."""
    photo = (np.full((20, 30, 3), (250, 200, 40), np.uint8), np.zeros((20, 30), np.uint8))
    photo[1][4:16, 5:25] = 1  # a 12 x 20 yellow box, the rest of the photo not pasted
    frames = np.zeros((6, 32, 32, 3), np.uint8)
    labels = np.zeros((6, 32, 32), np.uint8)
    labels[:, 8:24, 8:24] = 1
    labels[:, :, :2] = 255
    rng = np.random.default_rng(4)
    seen = []
    for _ in range(5):
        out, out_labels = pass_occluder(frames, labels, photo, rng, sizes=(0.5, 0.5))
        assert out.shape == frames.shape and out_labels.shape == labels.shape
        assert not frames.any() and (labels[:, 8:24, 8:24] == 1).all()  # inputs untouched
        covered = out[..., 0] >= 125  # at least half yellow
        assert covered.any(axis=(1, 2)).sum() >= 3
        assert out[..., 2].max() <= 40  # only the yellow box, never the photo's black
        assert not (covered & (out_labels == 1)).any()  # what it covers is no longer the target
        assert ((out_labels == 1) | covered | (labels != 1)).all()  # nor anything else lost
        assert (out_labels[labels == 255] == 255).all()
        seen.append([np.argwhere(c).mean(axis=0) for c in covered if c.any()])
    assert any(np.abs(path[0] - path[-1]).max() > 4 for path in seen)  # it moves


def test_occluders_in_pretraining_clips_need_photos(photos_root, tmp_path):
    src = make_root(tmp_path / "src")
    bare = decode(install_dataset("local", tmp_path / "bare", path=str(src)), tmp_path / "c0",
                  (16, 24))
    with pytest.raises(InputError, match="occluder_prob=0.5 but the cache holds no photos"):
        build(DATASETS, dict(type="PropagationClipDataset", cache_dir=str(bare), occluder_prob=0.5))
    cache = decode(install_dataset("local", tmp_path / "davis", path=str(src),
                                   photos=str(photos_root)), tmp_path / "cache", (32, 48))

    def target_share(occluder_prob: float) -> float:
        np.random.seed(0)
        ds = build(DATASETS, dict(type="PropagationClipDataset", cache_dir=str(cache),
                                  clip_len=4, crop_size=32, occluder_prob=occluder_prob))
        return float(np.mean([(ds[i % len(ds)]["data_samples"] == 1).float().mean()
                              for i in range(40)]))

    assert target_share(1.0) < 0.9 * target_share(0.0)  # 0.051 against 0.064


def test_bad_photo_folders_and_holdout_names_are_one_clear_error(tmp_path, photos_root):
    src = make_root(tmp_path / "src")
    with pytest.raises(ConfigError, match="'bogus' is not a train sequence"):
        install_dataset("local", tmp_path / "davis", path=str(src), holdout=("bogus",))
    assert not (tmp_path / "davis").exists()  # nothing half-installed
    (photos_root / "set" / "masks" / "p2.png").unlink()
    with pytest.raises(DavisError, match=r"p2\.jpg: no mask .*p2\.png; add it"):
        find_pairs(photos_root)
    with pytest.raises(DavisError, match="no photos found"):
        find_pairs(tmp_path / "src")
    cache = decode(install_dataset("local", tmp_path / "davis", path=str(src)), tmp_path / "c", (16, 24))
    with pytest.raises(InputError, match="holds no photos; set download.photos"):
        build(DATASETS, dict(type="PropagationClipDataset", cache_dir=str(cache), photo_prob=0.5))


def test_the_makefiles_holdout_flag_names_train_sequences_of_davis_2016(tmp_path):
    """`make heldout`'s -S flag, applied by DVC's own -S code, passes the params check and
    names 8 train sequences of the shared DAVIS 2016 root (4 of them fast motion)."""
    import re

    import yaml
    from dvc.utils.hydra import apply_overrides

    from stages.params import load_params
    from tests.support import REPO, SHARED_DATA

    holdout = re.search(r"^HOLDOUT := (.*)$", (REPO / "Makefile").read_text(), re.M).group(1)
    params = tmp_path / "params.yaml"
    params.write_text((REPO / "params.yaml").read_text())
    apply_overrides(params, [f"download.holdout={holdout}"])
    names = load_params(params, "download")["download"].holdout
    assert len(names) == 8 and len(set(names)) == 8
    root = SHARED_DATA / "davis2016-dev" / "DAVIS"
    if not root.is_dir():
        pytest.skip(f"{root} absent (the shared DAVIS 2016 data)")
    train = {s.name: s for s in list_sequences(root, ("train",))}
    assert set(names) <= set(train)
    assert sum("FM" in train[n].attributes for n in names) == 4
    assert yaml.safe_load(params.read_text())["download"]["photos"] == ""


def test_metrics_report_held_out_and_val_sequences_apart():
    from pipeline.evaluation.evaluate import ObjectScore
    from pipeline.evaluation.summary import summarize

    scores = [ObjectScore("bear", 1, (0.9,) * 4, (0.7,) * 4),        # held out, other
              ObjectScore("drift-turn", 1, (0.5,) * 4, (0.3,) * 4),  # held out, FM
              ObjectScore("blackswan", 1, (1.0,) * 4, (1.0,) * 4)]   # val
    seqs = {"bear": {"held_out": True, "attributes": ["DEF"]},
            "drift-turn": {"held_out": True, "attributes": ["FM"]},
            "blackswan": {"held_out": False, "attributes": []}}
    row = {k: 0.0 for k in ("J&F-Mean", "J-Mean", "J-Recall", "J-Decay", "F-Mean", "F-Recall", "F-Decay")}
    m = summarize(scores, row, seqs)
    assert m["J_and_F_heldout"] == pytest.approx(0.6)
    assert m["J_and_F_heldout_FM"] == pytest.approx(0.4)
    assert m["J_and_F_heldout_nonFM"] == pytest.approx(0.8)
    assert m["J_and_F_val"] == pytest.approx(1.0)
    plain = summarize(scores, row, {k: v | {"held_out": False} for k, v in seqs.items()})
    assert not any("heldout" in k or k == "J_and_F_val" for k in plain)
