# Read by the `flask` command run in this checkout (python-dotenv), so the README's
# `.venv/bin/flask --app webapp …` commands work as typed on `make run`'s development database.
# Never read by gunicorn or Celery, never copied into the Docker image (.dockerignore), and a
# variable set in the environment wins (FLASK_DEBUG=0 turns it off). Debug mode refuses a public
# SITE_URL (webapp/security.py), so it cannot reach a production site from here by accident.
FLASK_DEBUG=1
