"""Building from the registries, outside a stage, logs nothing about mmengine scopes."""
import subprocess
import sys

from tests.support import REPO, TINY_MODEL

# run as a script: mmengine infers a missing scope from the caller, here ``__main__``
SCRIPT = """
from mmengine.registry import DefaultScope
from pipeline.registry import MODELS, TRANSFORMS, build

cfg = {cfg!r}
built = [build(MODELS, cfg), MODELS.build(cfg)]
with DefaultScope.overwrite_default_scope("mmengine"):  # as inside an mmengine Runner
    built.append(build(MODELS, cfg))
built.append(build(TRANSFORMS, dict(type="ClipRandomFlip")))
print("built", *(type(m).__name__ for m in built))
"""


def test_building_outside_a_stage_prints_no_scope_warning():
    run = subprocess.run([sys.executable, "-c", SCRIPT.format(cfg=TINY_MODEL)], cwd=REPO,
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert run.stdout.split() == ["built", *["SlowFastSegmenter"] * 3, "ClipRandomFlip"]
    output = (run.stdout + run.stderr).lower()
    assert "scope" not in output and "registry" not in output, output
