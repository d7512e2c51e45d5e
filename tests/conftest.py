import os
import tempfile

os.environ.setdefault("MPLBACKEND", "Agg")
# consolidated-dataset cache of this test session, not the user's
os.environ.setdefault("MEMPLUG_DATASET_CACHE", tempfile.mkdtemp(prefix="memplug-dataset-cache-"))

import sys  # noqa: E402
import textwrap  # noqa: E402

import pytest  # noqa: E402

import memplug  # noqa: E402,F401  (enables float64)
from memplug.registry import get_registry  # noqa: E402


@pytest.fixture
def install(tmp_path, monkeypatch):
    """``install(dist, module_name, source, entry="module")`` makes a distribution with one
    ``memplug`` entry point visible to the registry (the demo plugins of the plugin tests)."""
    modules: list[str] = []

    def _install(
        dist: str, module: str, source: str, entry: str | None = None, ep_name: str = "demo"
    ):
        info = tmp_path / f"{dist.replace('-', '_')}-0.0.1.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 0.0.1\n")
        (info / "entry_points.txt").write_text(f"[memplug]\n{ep_name} = {entry or module}\n")
        (tmp_path / f"{module}.py").write_text(textwrap.dedent(source))
        modules.append(module)

    monkeypatch.syspath_prepend(str(tmp_path))
    get_registry.cache_clear()
    yield _install
    for m in modules:
        sys.modules.pop(m, None)
    get_registry.cache_clear()
