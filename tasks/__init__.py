"""The Celery app: `celery -A tasks worker` and `celery -A tasks beat` start from here.

Tasks are thin: they take ids and call the domain services in webapp. webapp never imports
this package; it sends tasks by name.
"""

from webapp import create_app

flask_app = create_app()
celery_app = flask_app.extensions["celery"]
app = celery_app
