from django.apps import AppConfig


class BehaviorConfig(AppConfig):
    name = "behavior"
