import numpy as np
import pytest
import torch

from pipeline.data.cache import load_arrays, sequence_table
from pipeline.engine.osvos import (
    FinetuneConfig, finetune, frame0_labels, predict, probs_to_ids, window_starts,
)
from pipeline.models import build_segmenter


@pytest.mark.parametrize(
    "num, clip, overlap, expected",
    [(8, 8, 4, [0]), (5, 8, 4, [0]), (12, 8, 4, [0, 4]), (13, 8, 4, [0, 4, 5]), (10, 4, 0, [0, 4, 6])],
)
def test_window_starts_cover_every_frame(num, clip, overlap, expected):
    starts = window_starts(num, clip, overlap)
    assert starts == expected
    covered = {t for s in starts for t in range(s, min(s + clip, num))}
    assert covered == set(range(num))


def test_frame0_labels_maps_ids_in_order_and_keeps_void():
    mask = np.array([[0, 3, 7], [255, 7, 0]], np.uint8)
    labels = frame0_labels(mask, [3, 7])
    assert labels.tolist() == [[0, 1, 2], [255, 2, 0]]
    classes = np.where(labels == 255, 0, labels)
    probs = (np.arange(3)[:, None, None, None] == classes[None, None]).astype(np.float32)
    assert probs_to_ids(probs, [3, 7])[0].tolist() == [[0, 3, 7], [0, 7, 0]]


def test_predict_averages_windows_and_upsamples(tiny_cache, tiny_model_cfg):
    torch.manual_seed(0)
    model = build_segmenter(tiny_model_cfg)
    frames, _ = load_arrays(tiny_cache, sequence_table(tiny_cache, "val")[0]["name"])
    probs = predict(model, frames, clip_len=4, overlap=2, out_size=(64, 96))
    assert probs.shape == (2, len(frames), 64, 96)
    np.testing.assert_allclose(probs.sum(0), 1.0, atol=1e-5)


def test_finetune_fits_frame0(tiny_cache, tiny_model_cfg):
    torch.manual_seed(0)
    model = build_segmenter(tiny_model_cfg)
    name = sequence_table(tiny_cache, "val")[0]["name"]
    frames, masks = load_arrays(tiny_cache, name)
    ids = sorted(int(i) for i in np.unique(masks[0]) if i not in (0, 255))
    model.set_num_classes(len(ids) + 1)
    cfg = FinetuneConfig(steps=40, lr=5e-3, batch_size=1, clip_len=4, augment=())
    losses = finetune(model, frames, frame0_labels(masks[0], ids), cfg)
    assert len(losses) == 40
    assert np.mean(losses[-5:]) < 0.6 * np.mean(losses[:5])
    pred = probs_to_ids(predict(model, frames, 4, 2), ids)[0]
    gt = masks[0]
    inter = np.logical_and(pred > 0, gt > 0).sum()
    union = np.logical_or(pred > 0, gt > 0).sum()
    assert inter / union > 0.6
