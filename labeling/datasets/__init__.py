"""Datasets: annotation formats, import and export, train/val/test splits and versions.

Pure modules (no Django import): ``formats/`` (YOLO, COCO, VOC, CVAT and the version
manifest), ``archives`` (checked zips) and ``splits`` (split assignment). Django side:
``exchange`` (what export and import share), ``exporting``, ``importing``, ``job_services``
(import and export jobs) with their workers ``import_work`` and ``export_work``,
``split_services``, ``versions`` (immutable dataset versions), ``selectors``, ``apis``,
``version_apis`` and ``views``.
"""
