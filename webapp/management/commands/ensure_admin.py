"""Make sure an admin account exists (used by `make run`).

With DJANGO_SUPERUSER_USERNAME / DJANGO_SUPERUSER_PASSWORD set, that account is created
(or its password reset). Otherwise, if no superuser exists yet, an ``admin`` account is
created with a generated password that is printed once.
"""

import os
import secrets

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Create the admin account if there is none."

    def handle(self, *args, **options):
        User = get_user_model()
        username = os.environ.get("DJANGO_SUPERUSER_USERNAME")
        password = os.environ.get("DJANGO_SUPERUSER_PASSWORD")
        if username and password:
            user, created = User.objects.get_or_create(
                username=username,
                defaults={"email": os.environ.get("DJANGO_SUPERUSER_EMAIL", "")},
            )
            user.is_staff = user.is_superuser = True
            user.set_password(password)
            user.save()
            verb = "Created" if created else "Updated"
            self.stdout.write(f"{verb} admin account “{username}” from DJANGO_SUPERUSER_*.")
            return
        if User.objects.filter(is_superuser=True).exists():
            self.stdout.write("An admin account exists already.")
            return
        password = secrets.token_urlsafe(12)
        User.objects.create_superuser(username="admin", email="", password=password)
        self.stdout.write(
            self.style.WARNING(
                "Created the admin account.\n"
                f"    username: admin\n    password: {password}\n"
                "This password is shown only now; change it after logging in."
            )
        )
