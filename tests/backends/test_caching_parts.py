"""The caching backend's parts without a cluster: the CDN edge's nginx.conf passes ``nginx -t``,
the origin numbers its versions and refuses bad bodies, and bad settings are refused clearly."""

from __future__ import annotations

import http.client
import json
import shutil
import subprocess
import threading
from http.server import ThreadingHTTPServer
from pathlib import Path

import pytest

from pytest_sdconform.backends import caching as cb
from pytest_sdconform.backends.caching.cdn import render
from pytest_sdconform.backends.caching.origin import make_handler
from pytest_sdconform.backends.nginx.topology import CONF, nginx_test


@pytest.mark.skipif(shutil.which("nginx") is None, reason="nginx is not installed")
@pytest.mark.parametrize("use_stale", ["", "error timeout"])
def test_the_edge_config_passes_nginx_t(tmp_path: Path, use_stale: str) -> None:
    (tmp_path / "tmp").mkdir()
    (tmp_path / "cache").mkdir()
    (tmp_path / CONF).write_text(render(tmp_path, "127.0.0.1", "127.0.0.1:9", 1, use_stale,
                                        0.5))
    run = subprocess.run(nginx_test(tmp_path, quiet=False), capture_output=True, text=True,
                         timeout=30)
    assert run.returncode == 0, run.stderr


def test_the_origin_numbers_versions_and_refuses_bad_bodies() -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), make_handler())
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = server.server_address[1]

    def call(method: str, path: str, body: bytes | None = None) -> tuple[int, object]:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        conn.request(method, path, body=body)
        resp = conn.getresponse()
        out = resp.status, json.loads(resp.read())
        conn.close()
        return out

    try:
        assert call("GET", "/obj/a") == (200, {"value": None, "version": 0})
        assert call("PUT", "/obj/a", b"7") == (200, {"version": 1})
        assert call("PUT", "/obj/a", b"8") == (200, {"version": 2})
        assert call("GET", "/obj/a") == (200, {"value": 8, "version": 2})
        assert call("PUT", "/obj/a", b"{not json")[0] == 400
        assert call("GET", "/nothing")[0] == 404
    finally:
        server.shutdown()


def test_bad_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="cache must be redis or memcached"):
        cb.Topology(cache="disk")
    with pytest.raises(ValueError, match="drains a Redis list"):
        cb.Topology(cache="memcached", flusher="items")
    with pytest.raises(ValueError, match="whole seconds"):
        cb.CdnTopology(valid_s=0)
    with pytest.raises(ValueError, match="at least two instances"):
        cb.DnsTopology(instances=1)
    info = cb.CachingInfo({"cache": "127.0.0.1", "db": "127.0.0.1"}, "redis", None)
    with pytest.raises(ValueError, match="unknown cache pattern"):
        cb.CacheClient(info, "write-sideways")
    with pytest.raises(ValueError, match="ttl_s must be > 0"):
        cb.CacheClient(info, "aside", ttl_s=0)
