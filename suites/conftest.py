"""Suites share the harness fixtures from fixtures/ (loaded by the top-level conftest.py), and these."""

from __future__ import annotations

import pytest

from fixtures.images import ImageProvider
from fixtures.probes import compile_probe


@pytest.fixture(scope="session")
def sysprobe_image(images: ImageProvider, base_image: str) -> str:
    """The distro's image with the static syscall probe at /sysprobe (images/probes/sysprobe.c)."""
    binary = compile_probe("sysprobe", images.cache_dir)
    return images.derived("sysprobe", "FROM {base}\nCOPY sysprobe /sysprobe\n", base_image, {"sysprobe": binary})
