"""Process-wide settings of the commands that run the network (pipeline.runtime)."""
import sys

import pytest

from pipeline.runtime import retain_freed_memory


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt is Linux's")
def test_malloc_keeps_freed_memory_on_linux_and_setting_it_twice_is_harmless():
    assert retain_freed_memory() is True
    assert retain_freed_memory() is True
