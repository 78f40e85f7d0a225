from django.apps import AppConfig


class HelloworldConfig(AppConfig):
    name = "helloworld"
    default_auto_field = "django.db.models.BigAutoField"
