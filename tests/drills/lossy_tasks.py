"""The production Celery app with `task_acks_late` and `task_reject_on_worker_lost` off, for the
drill that shows what those two settings protect (`celery -A tests.drills.lossy_tasks worker`)."""

import tasks.mail  # noqa: F401  (the tasks must exist to be changed)
from tasks import celery_app

app = celery_app
celery_app.conf.task_acks_late = False
celery_app.conf.task_reject_on_worker_lost = False
for name in ("tasks.mail.send_outbox_mail", "tasks.mail.send_outbox_batch", "tasks.mail.sweep_outbox"):
    celery_app.tasks[name].acks_late = False
    celery_app.tasks[name].reject_on_worker_lost = False
