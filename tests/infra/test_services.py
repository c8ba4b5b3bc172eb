"""The real services the backends are tested against start, answer and stop."""
from __future__ import annotations

import socket

from tests.services import free_port, start_nginx


def test_postgis_database_answers_spatial_sql(postgres_url, postgres_server):
    name = postgres_url.rsplit("/", 1)[1]
    out = postgres_server.psql("SELECT ST_AsText(ST_Buffer(ST_Point(0, 0), 1, 1))", database=name)
    assert out.strip().startswith("POLYGON((1 0")


def _redis_ping(port: int) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(b"PING\r\n")
        return sock.recv(64)


def test_redis_answers_and_restarts(redis_server):
    assert _redis_ping(redis_server.port) == b"+PONG\r\n"
    redis_server.restart()
    assert _redis_ping(redis_server.port) == b"+PONG\r\n"


def test_mosquitto_accepts_mqtt_connect(mosquitto):
    # MQTT 3.1.1 CONNECT with client id "t", clean session; the broker answers CONNACK 0.
    connect = bytes([0x10, 13, 0, 4]) + b"MQTT" + bytes([4, 2, 0, 60, 0, 1]) + b"t"
    with socket.create_connection((mosquitto.host, mosquitto.port), timeout=5) as sock:
        sock.sendall(connect)
        assert sock.recv(4) == bytes([0x20, 2, 0, 0])


def test_nginx_serves_a_file_from_its_own_folder(tmp_path):
    import requests
    root = tmp_path / "www"
    root.mkdir()
    (root / "hello.txt").write_text("hello")
    port = free_port()
    nginx = start_nginx(f"server {{ listen 127.0.0.1:{port}; root {root}; }}", tmp_path / "ngx",
                        port)
    try:
        answer = requests.get(f"http://127.0.0.1:{port}/hello.txt", timeout=5)
        assert answer.status_code == 200 and answer.text == "hello"
    finally:
        nginx.stop()
