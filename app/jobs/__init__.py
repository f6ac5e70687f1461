"""Background jobs: timers, deadline reminders, e-mail delivery and digests.

Jobs are functions of ids (never objects) that call the services. They run embedded
(`flask jobs run`, started by `make run` next to gunicorn) or on Celery workers with Redis as
the broker when CELERY_BROKER_URL is set (app/jobs/celery_app.py). Either way the database
decides who does what (SKIP LOCKED rows, unique reminder and notification keys), so several
runners and workers can share one PostgreSQL.
"""
