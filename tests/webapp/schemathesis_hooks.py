"""Schemathesis extensions for the fuzz run (loaded through ``SCHEMATHESIS_HOOKS``).

The resumable-upload PATCH takes raw bytes as tus defines them
(``application/offset+octet-stream``), a media type Schemathesis has no generator for.
"""

import schemathesis
from hypothesis import strategies as st

schemathesis.openapi.media_type("application/offset+octet-stream", st.binary(max_size=2048))
