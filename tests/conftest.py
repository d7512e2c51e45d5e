import os

os.environ.setdefault("MPLBACKEND", "Agg")

import memplug  # noqa: E402,F401  (enables float64)
