"""Frame sources (videos and image sets) and their frames.

Pure modules (no Django import): ``probe`` (describe a video: error classes, ``VideoInfo``,
limits), ``sampling`` (chosen frames) and ``streaming`` (every frame, in order), all
decoding through ``sandbox`` (the parent half) in a limited child running ``worker/`` (the
decoding half); ``imagesets`` (reading
zips and image files safely). Django side: ``services`` (upload, registration, image sets,
deletion), ``sampling_services`` (sampling jobs, run by ``labeling.tasks``), ``selectors``,
``apis`` and ``views``.
"""
