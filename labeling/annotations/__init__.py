"""The labeling editor's data: a frame's boxes and status.

``geometry`` (pure: box clipping), ``services`` (versioned saves), ``selectors`` (frame
lists and counts) and ``apis`` (the editor's REST endpoints).
"""
