from __future__ import annotations

import os
import secrets
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand

from swarmsite.roles import ADMIN


class Command(BaseCommand):
    help = (
        "Make sure a first admin user exists. Username from SWARM_ADMIN_USER (default 'admin'), "
        "password from SWARM_ADMIN_PASSWORD, or generated and printed once."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        User = get_user_model()  # noqa: N806
        username = os.environ.get("SWARM_ADMIN_USER", "admin")
        if User.objects.filter(is_superuser=True).exists():
            return
        password = os.environ.get("SWARM_ADMIN_PASSWORD") or secrets.token_urlsafe(12)
        user = User.objects.create_superuser(username=username, email="", password=password)
        user.groups.add(Group.objects.get_or_create(name=ADMIN)[0])
        shown = "from SWARM_ADMIN_PASSWORD" if os.environ.get("SWARM_ADMIN_PASSWORD") else password
        self.stdout.write(self.style.SUCCESS(f"Created admin user '{username}' with password: {shown}"))
        self.stdout.write("This is shown once; change it in the admin (/admin/) after logging in.")
