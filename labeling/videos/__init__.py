"""Frame sources (videos and image sets) and their frames: the Django side.

Decoding (probing, sampling, streaming, image checks, the sandboxed child) is the pure
:mod:`media` package, shared with the other apps. Here: ``imagesets`` (pure: reading zips
and image files safely, through :mod:`media.image_check`), ``services`` (upload,
registration, image sets, deletion), ``sampling_services`` (sampling jobs),
``imageset_services`` (image-set jobs), ``chunked``/``chunked_services`` (chunked uploads),
their workers ``sampling_work``, ``imageset_work`` and ``upload_work`` (run by
``labeling.tasks``), ``selectors``, ``apis`` and ``views``.
"""
