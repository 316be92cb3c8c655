"""The study: runs planned over presets, scenarios and seeds, executed on Dask or as DVC experiments, and
recorded in an export; its futility stop, its ablation and its speed calibration."""
