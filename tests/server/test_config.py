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


@pytest.mark.parametrize("env, words", [
    ({"CIMTWIN_LAYERS__URL": "postgresql://u@h/db"}, ["layers.url", "gpkg://"]),
    ({"CIMTWIN_METRICS__STORE_URL": "postgresql://u@h/db"},
     ["metrics.store_url", "sqlite://", "memory://"]),
    ({"CIMTWIN_METRICS__BUS_URL": "redis://127.0.0.1:6379/0"}, ["metrics.bus_url", "memory://"]),
])
def test_a_url_without_a_registered_backend_is_refused_at_start_up(env, words):
    """A server must not start on a backend that does not exist and fail on first use."""
    with pytest.raises(ConfigError) as info:
        load_config(env=env)
    for word in words:
        assert word in str(info.value)


def test_registering_a_backend_is_all_it_takes_for_the_config_to_accept_it(monkeypatch):
    from server.metrics.bus import BUS_BACKENDS
    monkeypatch.setitem(BUS_BACKENDS, "redis", lambda url: None)
    config = load_config(env={"CIMTWIN_METRICS__BUS_URL": "redis://127.0.0.1:6379/0"})
    assert config["metrics"]["bus_url"] == "redis://127.0.0.1:6379/0"
