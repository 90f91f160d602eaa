"""The sandboxed child's entry point: ``python -I .../worker/__main__.py --video-worker``.

:mod:`media.sandbox` runs this file as a script under resource limits. ``-I``
keeps the project, the current folder, the script's folder, the user's site-packages and
``PYTHON*`` variables off ``sys.path``, so nothing can shadow a module in the child. The
worker's own modules are then loaded from this folder, as a package under a private name,
by file location: nothing else is searched, and nothing of the project (Django included)
is imported; what they import besides each other is the standard library, numpy, PyAV and
Pillow.
"""

import importlib
import importlib.util
import os
import sys

_PACKAGE = "_video_worker"


def _load_worker():
    sys.dont_write_bytecode = True  # the child writes no files, not even a .pyc
    here = os.path.dirname(os.path.abspath(__file__))
    spec = importlib.util.spec_from_file_location(
        _PACKAGE, os.path.join(here, "__init__.py"), submodule_search_locations=[here]
    )
    package = importlib.util.module_from_spec(spec)
    sys.modules[_PACKAGE] = package
    spec.loader.exec_module(package)
    return importlib.import_module(f"{_PACKAGE}.child")


if __name__ == "__main__" and sys.argv[1:] == ["--video-worker"]:
    sys.exit(_load_worker().worker_main())
