"""The baseline every page is divided by: a bare Flask app with one route, nothing else (no
database, no session, no middleware). bench/pages.py serves it with the very gunicorn settings
it serves the site with, in the same rounds:

    gunicorn --workers 2 "bench.bare_hello:app"
"""

from flask import Flask

app = Flask(__name__)


@app.get("/hello")
def hello() -> str:
    return "Hello"
