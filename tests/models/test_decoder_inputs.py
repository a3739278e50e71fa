"""The decoder's temporal upsampling and the data preprocessor's layouts."""
import numpy as np
import pytest
import torch

from pipeline.models.decoder import upsample_time
from pipeline.models.preprocessor import ClipDataPreprocessor


@pytest.mark.parametrize("frames, alpha", [(8, 4), (7, 2), (5, 4), (4, 1)])
def test_upsampling_only_the_last_frames_gives_those_frames_of_the_full_upsampling(frames, alpha):
    slow = torch.randn(2, 3, -(-frames // alpha), 5, 5)
    full = upsample_time(slow, frames, alpha)
    assert full.shape[2] == frames
    for last in (1, 2, frames):
        torch.testing.assert_close(upsample_time(slow, frames, alpha, last), full[:, :, -last:],
                                   rtol=0, atol=0)


def test_normalize_keeps_a_channels_last_clip_channels_last_with_the_values_of_forward():
    preprocessor = ClipDataPreprocessor()
    clips = torch.from_numpy(np.random.default_rng(0).integers(0, 256, (2, 3, 8, 8, 4), np.uint8))
    permuted = clips.permute(0, 4, 1, 2, 3)  # (B, C, T, H, W) over (B, T, H, W, C) memory
    got = preprocessor.normalize(permuted)
    assert got.is_contiguous(memory_format=torch.channels_last_3d)
    expected = preprocessor({"inputs": permuted.contiguous()})["inputs"]
    assert expected.is_contiguous()
    torch.testing.assert_close(got, expected, rtol=0, atol=0)
    torch.testing.assert_close(got[:, 3], clips[..., 3].float() / 255 * 2 - 1, rtol=0, atol=0)
    channels_last = preprocessor({"inputs": permuted}, True, torch.channels_last_3d)["inputs"]
    assert channels_last.is_contiguous(memory_format=torch.channels_last_3d)  # fine-tuning's
    torch.testing.assert_close(channels_last, expected, rtol=0, atol=0)
