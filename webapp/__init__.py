from .celery import app as celery_app

__version__ = "0.2.0"  # written into every export's sidecar
__all__ = ("__version__", "celery_app")
