"""A trajectory in the forms labs use: Parquet (stored), per-frame CSV, NWB, MOT text."""
