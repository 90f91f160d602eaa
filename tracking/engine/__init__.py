"""The tracking engine: whole-video detection, identities, gaps and trust figures.

Pure Python (NumPy, no Django import). The Celery task in ``tracking.tasks`` is a thin
wrapper around :mod:`tracking.engine.runner`.
"""
