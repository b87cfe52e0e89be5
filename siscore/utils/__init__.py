"""Helpers every stage uses: atomic files, locks, parallel execution (joblib/Dask),
progress bars and optional extras."""
