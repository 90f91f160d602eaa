"""Media I/O for every app: probing, decoding and sampling videos, and checking images.

A plain package, not a Django app: no Django, DRF or Celery import anywhere in it
(tests/test_pure_modules.py guards that). Labeling (uploads, frame sampling, image sets,
dataset imports), tracking (the engine's frame source), behaviour (freezing) and assisted
labeling (hard frames) all decode through it.

- ``probe``: describe a video (``probe_video`` -> ``VideoInfo``), the error classes and limits;
- ``sampling``: chosen frames (``sample_indices``, ``sample_every_seconds``, ...);
- ``streaming``: every frame, in order (``iter_video_frames``);
- ``image_check``: decode, size, hash and scan a batch of images (``check_images``);
- ``sandbox``: the parent half, which runs each request in a limited child process;
- ``worker/``: the decoding half, run in that child as a script (``python -I
  media/worker/__main__.py --video-worker``), importing only the standard library, numpy,
  PyAV, Pillow and itself.

Untrusted files are decoded only in that child, never in a web or Celery process.
"""
