"""The decoding half of the sandbox: what runs inside the sandboxed child, for videos and
for images.

:mod:`media.sandbox` runs ``__main__.py`` as a script (``python -I
.../worker/__main__.py --video-worker``) under resource limits; the child reads one JSON
request on stdin and answers with messages on stdout (``[4-byte length][JSON
header][payload]``). Because ``-I`` keeps the project off ``sys.path``, this package imports
only the standard library, numpy, PyAV, Pillow and its own modules (relative imports:
``__main__`` loads it by file location), never the rest of the project:

- ``rules``: what files are acceptable and which frames a plan selects (the constants and
  ``indices_*`` helpers that :mod:`media.probe` and
  :mod:`media.sampling` re-export: the only names the parent process uses);
- ``child``: the child's limits, message channel and request dispatch;
- ``packets``: opening a file with only the allowed demuxers, and its packet index;
- ``entry_points``: which keyframes a fresh decoder can really start from;
- ``decode``: decoding chosen frames, skipping what none of them needs;
- ``ops``: the video requests (probe, sample, stream);
- ``images``: the ``images`` request (decode, size, hash and scan a batch of images, for
  :mod:`media.image_check`; Pillow only, no numpy or PyAV) and the markup scan
  (``polyglot_problem``) that :mod:`labeling.videos.imagesets` re-exports.

What its modules share is public (no leading underscore: ``FileRejected``, ``DecodeFailed``,
``PacketIndex``, ``MessageChannel``...), but only ``rules``' constants and helpers are meant
for the parent process. PyAV and Pillow are only imported inside functions, so importing
these modules in the web or Celery process (for the constants) does not load ffmpeg. Frame
indices, timestamps and images follow the conventions of :mod:`media.probe`.
"""
