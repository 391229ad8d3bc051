"""First-load page weight: a page's HTML plus the CSS and JS it references, gzipped.

    python bench/weight.py --base http://127.0.0.1:8000 --out weight.json / /events /events/slug

Each page is fetched with `Accept-Encoding: gzip`; every `<link rel="stylesheet" href>` and
`<script src>` on it is fetched too. When the server sends a body gzipped, its size on the
wire is counted; otherwise (Flask and gunicorn do not compress) the body is gzipped here at
level 6, what a typical reverse proxy (nginx `gzip_comp_level` 1-6) would send at most.
Images, fonts and the favicon are not counted. Writes JSON; prints one line per page.
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
import urllib.error
import urllib.request
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

GZIP_LEVEL = 6


class Assets(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.css: list[str] = []
        self.js: list[str] = []
        self.icons: list[str] = []

    def handle_starttag(self, tag, attrs):
        a = {k: (v or "") for k, v in attrs}
        rel = a.get("rel", "").lower().split()
        if tag == "link" and "stylesheet" in rel and a.get("href"):
            self.css.append(a["href"])
        elif tag == "link" and "icon" in rel and a.get("href"):
            self.icons.append(a["href"])
        elif tag == "script" and a.get("src"):
            self.js.append(a["src"])


def fetch(url: str) -> tuple[int, bytes, int]:
    """(status, decoded body, gzipped size as sent or as gzip -6 would make it)."""
    request = urllib.request.Request(url, headers={"Accept-Encoding": "gzip"})
    try:
        with urllib.request.urlopen(request, timeout=15) as response:
            status, raw, encoding = response.status, response.read(), response.headers.get(
                "Content-Encoding", ""
            )
    except urllib.error.HTTPError as error:
        status, raw, encoding = error.code, error.read(), error.headers.get("Content-Encoding", "")
    if encoding == "gzip":
        return status, gzip.decompress(raw), len(raw)
    return status, raw, len(gzip.compress(raw, compresslevel=GZIP_LEVEL, mtime=0))


def measure(base: str, path: str) -> dict:
    url = urljoin(base, path)
    status, html, html_gz = fetch(url)
    parser = Assets()
    parser.feed(html.decode("utf-8", "replace"))
    result = {
        "path": path, "status": status, "html_bytes": len(html), "html_gz": html_gz,
        "assets": [], "problems": [],
    }
    if status != 200:
        result["problems"].append(f"{path} answered {status}")
    seen = set()
    for kind, refs in (("css", parser.css), ("js", parser.js)):
        for ref in refs:
            asset_url = urljoin(url, ref)
            if asset_url in seen:
                continue
            seen.add(asset_url)
            if urlsplit(asset_url).netloc != urlsplit(url).netloc:
                result["problems"].append(f"{ref} is on another host, not counted")
                continue
            a_status, body, body_gz = fetch(asset_url)
            if a_status != 200:
                result["problems"].append(f"{ref} answered {a_status}")
            result["assets"].append(
                {"kind": kind, "ref": ref, "status": a_status, "bytes": len(body), "gz": body_gz}
            )
    for ref in parser.icons:  # not counted in the weight, but a missing icon is worth knowing
        i_status, _, _ = fetch(urljoin(url, ref))
        if i_status != 200:
            result["problems"].append(f"icon {ref} answered {i_status} (not counted)")
    result["css_gz"] = sum(a["gz"] for a in result["assets"] if a["kind"] == "css")
    result["js_gz"] = sum(a["gz"] for a in result["assets"] if a["kind"] == "js")
    result["total_gz"] = html_gz + result["css_gz"] + result["js_gz"]
    return result


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--base", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("paths", nargs="+")
    args = parser.parse_args()
    pages = [measure(args.base, path) for path in args.paths]
    with open(args.out, "w", encoding="utf-8") as f:
        json.dump({"gzip_level": GZIP_LEVEL, "pages": pages}, f, indent=2)
    for page in pages:
        print(
            f"weight: {page['path']}: {page['total_gz'] / 1024:.1f} KB gzipped "
            f"(HTML {page['html_gz'] / 1024:.1f}, CSS {page['css_gz'] / 1024:.1f}, "
            f"JS {page['js_gz'] / 1024:.1f})"
            + "".join(f"; {p}" for p in page["problems"])
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
