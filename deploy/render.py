"""Fill in deploy/nginx-site.conf.in for a data folder and an upstream (docs/deploy.md)."""
from __future__ import annotations

from pathlib import Path

HERE = Path(__file__).resolve().parent


def nginx_site(listen: str, upstream: str, data_dir: Path, tile_access: bool = True,
               access_cache: Path | None = None) -> str:
    """The `http { }` body: nginx on ``listen`` in front of cimtwin at ``upstream``.

    ``tile_access``: nginx sends tile files after an auth_request (deploy/tile-access.conf.in);
    without it every tile request reaches cimtwin, which answers X-Accel-Redirect.
    ``access_cache``: the folder of the auth_request answers (default under the data dir)."""
    data_dir = Path(data_dir).resolve()
    cache = Path(access_cache or data_dir / "cache" / "nginx-tile-access")
    cache.parent.mkdir(parents=True, exist_ok=True)  # nginx makes the folder (0700, its user)
    block = (HERE / "tile-access.conf.in").read_text() if tile_access else ""
    values = {"TILE_ACCESS": block, "LISTEN": listen, "UPSTREAM": upstream,
              "STORE_ROOT": data_dir / "tiles", "GZIP_ROOT": data_dir / "cache" / "gzip",
              "ACCESS_CACHE": cache}
    text = (HERE / "nginx-site.conf.in").read_text()
    for name, value in values.items():
        text = text.replace(f"@{name}@", str(value))
    return text
