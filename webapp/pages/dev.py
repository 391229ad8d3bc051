"""Developer-only pages (debug mode): the mails the site would have sent."""

from __future__ import annotations

from email import policy
from email.parser import BytesParser
from pathlib import Path

from flask import Blueprint, abort, current_app, redirect, url_for

from webapp.rendering import render

bp = Blueprint("dev", __name__, url_prefix="/dev")


def _mail_files() -> list[Path]:
    folder = Path(current_app.config["MAIL_FILE_DIR"])
    return sorted(folder.glob("*.eml"), reverse=True) if folder.exists() else []


def _read(path: Path):
    with path.open("rb") as fh:
        return BytesParser(policy=policy.default).parse(fh)


@bp.get("/mail")
def mail_index():
    mails = [(p.stem, _read(p)) for p in _mail_files()[:200]]
    return render("dev/mail.html", mails=mails, folder=current_app.config["MAIL_FILE_DIR"])


@bp.get("/mail/<name>")
def mail_detail(name: str):
    path = Path(current_app.config["MAIL_FILE_DIR"]) / f"{name}.eml"
    if "/" in name or ".." in name or not path.is_file():
        abort(404)
    message = _read(path)
    text_part = message.get_body(preferencelist=("plain",))
    return render(
        "dev/mail_detail.html",
        name=name,
        message=message,
        text=text_part.get_content() if text_part else "",
    )


@bp.post("/mail/clear")
def mail_clear():
    for path in _mail_files():
        path.unlink(missing_ok=True)
    return redirect(url_for("dev.mail_index"), code=303)
