"""The one clip builder of pretraining, fine-tuning and propagation (pipeline.data.clips)."""
import numpy as np

from pipeline.data.clips import ClipSpec


def test_a_clip_ends_at_its_frame_with_frames_tau_apart_clamped_into_the_video():
    spec = ClipSpec(clip_len=4, tau=2)
    assert spec.span == 7
    assert spec.indices(20, 30).tolist() == [14, 16, 18, 20]
    assert spec.indices(3, 30).tolist() == [0, 0, 1, 3]  # at the start the first frame repeats
    assert spec.indices(9, 8).tolist() == [3, 5, 7, 7]  # past the end: the last frame
    assert spec.indices(0, 30, mirror=True).tolist() == [6, 4, 2, 0]  # fine-tuning's clip
    assert spec.indices(0, 3, mirror=True).tolist() == [2, 2, 2, 0]
    assert ClipSpec(clip_len=1).indices(5, 9).tolist() == [5]


def test_the_box_is_context_times_the_object_and_jitters_only_in_training():
    mask = np.zeros((100, 100), bool)
    mask[40:60, 30:50] = True
    spec = ClipSpec(context=2.0, min_side=8)
    assert spec.box(mask) == (50.0, 40.0, 40.0)
    assert spec.box(np.zeros_like(mask)) is None
    jittered = {spec.box(mask, np.random.default_rng(s)) for s in range(5)}
    assert len(jittered) == 5 and all(32 <= side <= 50 for _, _, side in jittered)


def test_inputs_crop_frames_and_priors_to_one_box_and_encode_the_prior_as_255():
    frames = np.random.default_rng(0).integers(0, 256, (3, 64, 64, 3), np.uint8)
    priors = np.zeros((3, 64, 64), np.uint8)
    priors[:, 24:40, 24:40] = 1
    spec = ClipSpec(clip_len=3, crop_size=32)
    x = spec.inputs(frames, priors, (32.0, 32.0, 32.0))  # the box = the frame's centre half
    assert x.shape == (3, 32, 32, 4) and x.dtype == np.uint8
    np.testing.assert_array_equal(x[..., :3], frames[:, 16:48, 16:48])
    assert set(np.unique(x[..., 3])) == {0, 255} and (x[:, 8:24, 8:24, 3] == 255).all()


def test_inputs_from_class_maps_are_those_of_the_binary_maps_of_the_class():
    rng = np.random.default_rng(1)
    frames = list(rng.integers(0, 256, (3, 50, 70, 3), np.uint8))  # a list, as propagation gives
    classes = rng.integers(0, 4, (3, 50, 70)).astype(np.uint8)
    spec = ClipSpec(clip_len=3, crop_size=32)
    box = (10.0, 65.0, 40.0)  # partly outside the frame: the fill is background
    for cls in (1, 3):
        expected = spec.inputs(np.stack(frames), (classes == cls).astype(np.uint8), box)
        np.testing.assert_array_equal(spec.inputs(frames, list(classes), box, cls=cls), expected)
