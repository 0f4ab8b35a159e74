"""The review app."""

from django.apps import AppConfig


class ReviewConfig(AppConfig):
    """Cases, decisions, events, verdicts and the audit log."""

    name = "review"
    default_auto_field = "django.db.models.BigAutoField"
