"""Shared settings of the tiny MD runs of the tests: a 5σ box, short equilibration, few origins
(the same code path as a real state, at a size that runs in seconds)."""

SMALL = dict(
    L=5.0,
    max_equil_steps=6000,
    t_equil_min=2.0,
    first_segment_time=1.0,
    n_origins=4,
    n_sk_frames=4,
    max_per_bin=60,
    drift_test_time=2.0,
    warmup_time=0.5,
)
