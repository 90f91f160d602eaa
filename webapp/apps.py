from django.apps import AppConfig
from django.urls import register_converter


class WebappConfig(AppConfig):
    name = "webapp"

    def ready(self) -> None:
        from .bounds import IdConverter

        # Before any URLconf is imported: every app's urls use <id:...> for ids.
        register_converter(IdConverter, "id")
