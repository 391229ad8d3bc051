"""The Flask extensions, made once here and bound to each app in create_app (Flask's pattern).

Their own module, so the modules that use one (the login manager, the rate limiter) import it
from here and not from the package that imports them back.
"""

from __future__ import annotations

from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_mail import Mail
from flask_migrate import Migrate
from flask_wtf.csrf import CSRFProtect
from htmx_flask import Htmx

from webapp import config

migrate = Migrate(directory=str(config.ROOT / "migrations"), render_as_batch=True)
csrf = CSRFProtect()
mail = Mail()
htmx = Htmx()
login_manager = LoginManager()
login_manager.login_view = "accounts.sign_in"
login_manager.login_message = None  # the sign-in page says why on its own
login_manager.session_protection = "basic"
# Storage and limits come from the app config (RATELIMIT_*, SIGN_IN_LIMIT_*).
limiter = Limiter(key_func=get_remote_address)
