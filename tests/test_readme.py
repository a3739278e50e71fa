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
