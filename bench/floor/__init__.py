"""The framework's floor: a bare django-ninja app with one async no-op, served by daphne.

bench/heartbeat.py compares Swarmsite's authenticated no-op against it. It shares nothing with the
product (no swarmsite import, no database, no middleware, no installed apps)."""
