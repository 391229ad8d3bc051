"""What every response and every start of the app checks, whatever the page: security headers,
HTTPS behind a proxy, and debug mode kept off the public internet."""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from flask import Flask, current_app, redirect, request
from werkzeug.middleware.proxy_fix import ProxyFix

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)
# A year, as browsers' preload lists ask; without includeSubDomains, which would bind hosts we
# do not run.
HSTS = "max-age=31536000"


class UnsafeSettings(RuntimeError):
    """The settings would expose development tools or keys: the app refuses to start."""


def is_local_url(url: str) -> bool:
    """True for a SITE_URL the public internet cannot reach: localhost, *.localhost, loopback
    and private-network addresses (a developer trying the site on a phone on their own network)."""
    host = (urlsplit(url).hostname or "").rstrip(".").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return address.is_loopback or address.is_private


def refuse_unsafe_settings(config) -> None:
    """Debug mode serves /dev/mail (every member's sign-in links) and falls back to a known
    development key, so it only ever runs for a local SITE_URL; outside debug, SECRET_KEY is
    required. Tests (TESTING) run on their own settings."""
    if config["TESTING"]:
        return
    if config["DEBUG"] and not is_local_url(config["SITE_URL"]):
        raise UnsafeSettings(
            f"FLASK_DEBUG is on but SITE_URL is {config['SITE_URL']!r}, which is not a local "
            "or private-network address. Debug mode shows every mail at /dev/mail and may use the development key, "
            "so it only runs for a SITE_URL such as http://localhost:5000. For a public site unset FLASK_DEBUG "
            "(the flask command in a checkout reads FLASK_DEBUG=1 from .flaskenv: set FLASK_DEBUG=0) and "
            "set SECRET_KEY (README, Configuration)."
        )
    if not config["DEBUG"] and not config["SECRET_KEY"]:
        raise UnsafeSettings("SECRET_KEY must be set outside debug mode (README, Configuration).")


def trust_proxy(app: Flask) -> None:
    """Behind PROXY_FIX_HOPS reverse proxies (docker-compose: Caddy, which ends TLS), take the
    client's address, scheme and host from their X-Forwarded-* headers, and only then: with no
    proxy configured a client could forge them."""
    hops = app.config["PROXY_FIX_HOPS"]
    if hops > 0:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)


def keep_developers_on_the_site_address(app: Flask) -> None:
    """Debug mode only: a page opened at another name for this machine (127.0.0.1 for localhost)
    is sent to SITE_URL's, because mailed links use SITE_URL and the session cookie belongs to
    one host name: signing in from a mail would otherwise land in a browser signed out."""
    site = urlsplit(app.config["SITE_URL"])

    @app.before_request
    def _to_site_host():
        if request.method not in ("GET", "HEAD") or request.host == site.netloc:
            return None
        here = urlsplit(f"{site.scheme}://{request.host}")
        # Only another name for this same server (same port): a SITE_URL naming another port
        # is the developer's setting to fix, not a reason to send every page elsewhere.
        if not is_local_url(f"http://{request.host}") or (here.port or None) != (site.port or None):
            return None
        query = f"?{request.query_string.decode()}" if request.query_string else ""
        return redirect(f"{site.scheme}://{site.netloc}{request.path}{query}", code=307)


def add_security_headers(response):
    headers = response.headers
    headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Referrer-Policy", "strict-origin-when-cross-origin")
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
    headers.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
    # Only over HTTPS (browsers ignore it on plain HTTP) and only for a site that is meant to be
    # HTTPS: a developer's http://localhost must never be pinned to HTTPS.
    if request.is_secure and _site_is_https():
        headers.setdefault("Strict-Transport-Security", HSTS)
    return response


def _site_is_https() -> bool:
    return current_app.config["SITE_URL"].startswith("https://")
