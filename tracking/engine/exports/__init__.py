"""Writers (and the stored form's reader) of a :class:`~tracking.engine.trajectory.Trajectory`.

Pure: each takes a trajectory (already edited, see :mod:`tracking.engine.edits`) and a path
or an open file object. Coordinates stay original-video pixels; animal ids are 1..N.

- :mod:`.parquet`: the stored form, read and written, exact round trip (flags included).
- :mod:`.per_frame_csv`: one row per frame per animal, missing rows included.
- :mod:`.sidecar`: the JSON that says where a result came from and how far to trust it.
- :mod:`.nwb`: Neurodata Without Borders, ``behavior/Position`` with one series per animal.
- :mod:`.mot`: MOT-challenge text for tracking-benchmark tools.
"""
