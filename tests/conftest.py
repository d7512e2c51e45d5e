import os
import tempfile

os.environ.setdefault("MPLBACKEND", "Agg")
# consolidated-dataset cache of this test session, not the user's
os.environ.setdefault("MEMPLUG_DATASET_CACHE", tempfile.mkdtemp(prefix="memplug-dataset-cache-"))

import memplug  # noqa: E402,F401  (enables float64)
