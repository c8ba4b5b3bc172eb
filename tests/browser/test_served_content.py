"""The glb files the browser tests serve (the demo district built for this session) pass
the Khronos glTF validator: a viewer test on invalid content would prove little."""
from __future__ import annotations

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_every_served_glb_passes_the_gltf_validator(demo_data_dir):
    from tiles.validate import validate_glb
    data_dir, _ = demo_data_dir
    glbs = sorted((data_dir / "tiles").rglob("*.glb"))
    assert glbs, "the demo district has tile content"
    reports = validate_glb(glbs)
    failed = [r.summary() for r in reports if not r.ok]
    assert failed == [], "\n".join(failed)
