"""The gallery script draws every chart of a simulated export into PNG files."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import SimpleNamespace

import matplotlib.image as mpimg
import matplotlib.pyplot as plt
import pytest

pytestmark = pytest.mark.slow

SCRIPT = Path(__file__).resolve().parents[2] / "examples" / "gallery.py"


def test_gallery_writes_every_chart(simulated: SimpleNamespace, tmp_path: Path) -> None:
    spec = importlib.util.spec_from_file_location("gallery_script", SCRIPT)
    assert spec is not None and spec.loader is not None
    gallery = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gallery)
    figures_before = plt.get_fignums()
    written = gallery.draw_gallery(simulated, tmp_path, dpi=40)
    names = {p.stem for p in written}
    assert {"overview", "active_users", "retention_heatmap_weekly", "funnel", "revenue"} <= names
    assert len(written) == 18
    for path in written:
        image = mpimg.imread(path)
        assert image.shape[0] > 100 and image.shape[1] > 100, path
        assert image.std() > 0.01, f"{path.name} is blank"
    assert plt.get_fignums() == figures_before  # every figure closed
