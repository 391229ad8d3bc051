# syntax=docker/dockerfile:1
# METRO Meetups: one image for every app process (web, worker, beat, migrate).
# The default command serves the site with gunicorn; docker-compose.yml picks the others.
FROM python:3.11-slim

# PYTHONPATH: the app finds templates/, static/ and migrations/ next to the webapp package
# (webapp/config.py: ROOT = parent of webapp/), and the seed data (webapp/seed/*.json, *.md)
# is not in the wheel (pyproject.toml declares no package data). So the code must be
# imported from /app, not from the copy `pip install .` puts in site-packages.
ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore \
    PYTHONPATH=/app \
    INSTANCE_PATH=/app/instance

WORKDIR /app

RUN groupadd --system --gid 10001 app \
 && useradd --system --uid 10001 --gid app --create-home --home-dir /home/app \
        --shell /usr/sbin/nologin app

# Install the project and its dependencies from pyproject.toml. Only what the build needs
# is copied first, so template/static/migration edits do not reinstall the dependencies;
# the cache mount keeps downloaded wheels between builds without putting them in the image.
COPY pyproject.toml README.md ./
COPY webapp ./webapp
COPY tasks ./tasks
RUN --mount=type=cache,target=/root/.cache/pip \
    pip install . \
 && rm -rf build ./*.egg-info

COPY templates ./templates
COPY static ./static
COPY migrations ./migrations

# instance/ is the only place the app writes to (mail files and the filesystem broker when
# no MAIL_SERVER / REDIS_URL is set); everything else stays root-owned and read-only.
RUN mkdir -p instance && chown app:app instance

USER app

EXPOSE 8000

CMD ["gunicorn", "--bind", "0.0.0.0:8000", "--workers", "3", "--access-logfile", "-", "webapp:create_app()"]
