"""The README's promises that tests can hold it to."""
import re

from tests.support import REPO

README = (REPO / "README.md").read_text()


def test_readme_says_to_activate_the_venv_before_any_dvc_command():
    first = min(README.index("dvc exp run"), README.index("dvc metrics diff"))
    assert "source .venv/bin/activate" in README[:first]


def test_every_row_of_what_happens_when_names_a_test_that_exists():
    section = README.split("## What happens when…", 1)[1].split("\n## ", 1)[0]
    tests = re.findall(r"\| `([\w/]+\.py)::(\w+)(?:\[([^\]]+)\])?` \|", section)
    assert len(tests) >= 60
    for path, name, case in tests:
        source = (REPO / "tests" / path).read_text()
        assert f"def {name}(" in source, (path, name)
        assert case is None or f'"{case}"' in source, (path, name, case)


def test_the_python_example_segments_a_clip(tmp_path, monkeypatch):
    """The README's "From Python" block, run as written (2 fine-tuning steps instead of 100)
    on a small clip of a bright square moving over noise."""
    import numpy as np
    from PIL import Image

    from pipeline.visualize import write_video

    code = README.split("### From Python", 1)[1].split("```python\n", 1)[1].split("```", 1)[0]
    assert "steps=100" in code
    rng = np.random.default_rng(0)
    frames = [rng.integers(0, 80, (96, 128, 3), dtype=np.uint8) for _ in range(10)]
    for t, f in enumerate(frames):
        f[30:60, 20 + 3 * t:50 + 3 * t] = (240, 220, 30)
    write_video(tmp_path / "clip.mp4", np.stack(frames), fps=10)
    mask = np.zeros((96, 128), np.uint8)
    mask[30:60, 20:50] = 255
    Image.fromarray(mask).save(tmp_path / "mask.png")
    monkeypatch.chdir(tmp_path)
    scope: dict = {}
    exec(code.replace("steps=100", "steps=2"), scope)
    masks = scope["masks"]
    assert len(masks) == 10 and masks[0].shape == (96, 128)
    last = masks[-1] == 1
    truth = np.zeros_like(last)
    truth[30:60, 47:77] = True
    assert (last & truth).sum() / (last | truth).sum() > 0.6


def test_every_link_within_the_readme_leads_to_one_of_its_headings():
    """GitHub's anchors: the heading lowercased, punctuation but hyphens dropped, spaces as -."""
    anchors = {re.sub(r"[^\w\- ]", "", h.strip().lower()).replace(" ", "-")
               for h in re.findall(r"^#+ (.+)$", README, flags=re.M)}
    links = re.findall(r"\]\(#([^)]+)\)", README)
    assert len(links) >= 10
    assert not [link for link in links if link not in anchors]
