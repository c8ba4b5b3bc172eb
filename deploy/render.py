"""Fill in deploy/nginx-site.conf.in for a data folder and an upstream (docs/deploy.md)."""
from __future__ import annotations

from pathlib import Path

HERE = Path(__file__).resolve().parent


def nginx_site(listen: str, upstream: str, data_dir: Path) -> str:
    """The `http { }` body: nginx on ``listen`` in front of cimtwin at ``upstream``."""
    data_dir = Path(data_dir).resolve()
    values = {"LISTEN": listen, "UPSTREAM": upstream, "STORE_ROOT": data_dir / "tiles",
              "GZIP_ROOT": data_dir / "cache" / "gzip"}
    text = (HERE / "nginx-site.conf.in").read_text()
    for name, value in values.items():
        text = text.replace(f"@{name}@", str(value))
    return text
