from django.apps import AppConfig


class AssistedConfig(AppConfig):
    name = "assisted"
    verbose_name = "Assisted labeling"
