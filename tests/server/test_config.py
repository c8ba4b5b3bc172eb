"""Config: load order, validation messages that name the key and the allowed values."""
import pytest

from server.config import ConfigError, load_config


def test_defaults_load_and_data_dir_defaults_to_var():
    config = load_config(env={})
    assert config["server"]["port"] == 8000
    assert config.data_dir.name == "var"


def test_file_then_env_then_overrides(tmp_path):
    file = tmp_path / "site.toml"
    file.write_text('[server]\nport = 9001\nhost = "0.0.0.0"\n[tiles]\ncompression = "draco"\n')
    env = {"CIMTWIN_CONFIG": str(file), "CIMTWIN_PORT": "9002",
           "CIMTWIN_DATA_DIR": str(tmp_path / "d")}
    config = load_config(overrides={"tiles": {"compression": "meshopt"}}, env=env)
    assert config["server"]["host"] == "0.0.0.0"      # from the file
    assert config["server"]["port"] == 9002           # env beats file
    assert config["tiles"]["compression"] == "meshopt"  # overrides beat env
    assert config.data_dir == (tmp_path / "d").resolve()


def test_section_key_env_variables_are_parsed_by_type():
    config = load_config(env={"CIMTWIN_TILES__MAX_TRIANGLES_PER_TILE": "5000",
                              "CIMTWIN_VIEWER__IMAGERY_URL": "http://gis.local/{z}/{x}/{y}.png"})
    assert config["tiles"]["max_triangles_per_tile"] == 5000
    assert config["viewer"]["imagery_url"].startswith("http://gis.local/")


@pytest.mark.parametrize("env, words", [
    ({"CIMTWIN_TILES__COMPRESSION": "zip"}, ["tiles.compression", "draco", "meshopt"]),
    ({"CIMTWIN_SERVER__PORTT": "1"}, ["server.portt", "port"]),
    ({"CIMTWIN_PORT": "99999"}, ["server.port", "65535"]),
    ({"CIMTWIN_PORT": "eighty"}, ["server.port"]),
    ({"CIMTWIN_LAYERS__URL": "mysql://x"}, ["layers.url", "gpkg://"]),
    ({"CIMTWIN_AUTH__ANONYMOUS_LEVELS": '["secret"]'}, ["auth.anonymous_levels", "restricted"]),
])
def test_invalid_values_name_the_key_and_what_is_allowed(env, words):
    with pytest.raises(ConfigError) as info:
        load_config(env=env)
    for word in words:
        assert word in str(info.value)


def test_missing_config_file_is_named(tmp_path):
    with pytest.raises(ConfigError, match="nothere.toml"):
        load_config(env={"CIMTWIN_CONFIG": str(tmp_path / "nothere.toml")})


def test_bool_is_not_accepted_for_a_number():
    with pytest.raises(ConfigError, match="server.port"):
        load_config(overrides={"server": {"port": True}}, env={})


def _registries():
    from layers.store import BACKENDS
    from server.metrics.bus import BUS_BACKENDS
    from server.metrics.store import STORE_BACKENDS
    return {"layers.url": BACKENDS, "metrics.store_url": STORE_BACKENDS,
            "metrics.bus_url": BUS_BACKENDS}


@pytest.mark.parametrize("key, url", [
    ("layers.url", "mysql://u@h/db"),
    ("metrics.store_url", "influxdb://h/db"),
    ("metrics.bus_url", "mqtt://127.0.0.1:1883"),
])
def test_a_url_without_a_registered_backend_is_refused_listing_what_exists(key, url):
    """A server must not start on a backend that does not exist and fail on first use."""
    section, name = key.split(".")
    with pytest.raises(ConfigError) as info:
        load_config(env={f"CIMTWIN_{section.upper()}__{name.upper()}": url})
    assert key in str(info.value)
    for scheme in _registries()[key]:
        assert f"{scheme}://" in str(info.value)


def test_registering_a_backend_is_all_it_takes_for_the_config_to_accept_it(monkeypatch):
    from server.metrics.bus import BUS_BACKENDS
    env = {"CIMTWIN_METRICS__BUS_URL": "mqtt://127.0.0.1:1883"}
    with pytest.raises(ConfigError):
        load_config(env=env)
    monkeypatch.setitem(BUS_BACKENDS, "mqtt", lambda url, capacity=0: None)
    assert load_config(env=env)["metrics"]["bus_url"] == "mqtt://127.0.0.1:1883"


def test_every_registered_layer_scheme_is_accepted():
    """Aliases a backend registers (postgres:// beside postgresql://) pass the config."""
    for scheme in _registries()["layers.url"]:
        url = "gpkg://layers.gpkg" if scheme == "gpkg" else f"{scheme}://u@127.0.0.1/db"
        assert load_config(env={"CIMTWIN_LAYERS__URL": url})["layers"]["url"] == url
