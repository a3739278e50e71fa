"""The finetune timing record: written and read back through its one definition."""
import pytest

from pipeline.errors import InputError
from pipeline.timing import FinetuneTiming


def test_record_round_trips_and_gives_the_compute_metrics(tmp_path):
    record = FinetuneTiming(
        sequences={"a": {"predict_fps": 10.0, "finetune_s": 1.0},
                   "b": {"predict_fps": 30.0, "finetune_s": 3.0}},
        compute={"params": 7, "gflops_per_clip": 4.0, "gflops_per_frame": 4.0, "crop_size": 64},
        world_size=2)
    record.write(tmp_path / "timing.json")
    assert FinetuneTiming.read(tmp_path / "timing.json") == record
    assert record.metrics() == {"params": 7, "gflops_per_frame": 4.0, "fps": 20.0,
                                "finetune_s_per_seq": 2.0}


@pytest.mark.parametrize("text", [None, "{not json", '{"sequences": {}}'])
def test_unreadable_record_is_an_input_error_naming_the_file(tmp_path, text):
    path = tmp_path / "timing.json"
    if text is not None:
        path.write_text(text)
    with pytest.raises(InputError, match="timing.json: cannot read the finetune timings"):
        FinetuneTiming.read(path)
