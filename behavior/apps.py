from django.apps import AppConfig


class BehaviorConfig(AppConfig):
    name = "behavior"

    def ready(self) -> None:
        # Tracking knows nothing of behaviour; behaviour registers what guards its data.
        from tracking.services import RUN_DELETE_CHECKS

        from .experiment.run_guard import chosen_for_the_table

        if chosen_for_the_table not in RUN_DELETE_CHECKS:
            RUN_DELETE_CHECKS.append(chosen_for_the_table)
