"""``portakern info``: every backend with its status, version, devices and capabilities; --json;
``python -m portakern`` is the same command; bad usage exits 2 without a traceback."""
from __future__ import annotations

import json
import subprocess
import sys

from portakern.cli.main import main
from portakern.runtime import registry


def test_info_json_lists_every_builtin_backend_with_status(capsys):
    assert main(["info", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert set(registry.BUILTIN_BACKENDS) <= set(data["backends"])
    for entry in data["backends"].values():
        assert isinstance(entry["available"], bool)
        assert entry["available"] or entry["reason"]          # a missing backend says why
    assert data["default_cpu_preference"] == list(registry.CPU_PREFERENCE)


def test_info_json_shows_a_registered_backend_with_its_device_and_capabilities(capsys, fake_backend):
    assert main(["info", "--json"]) == 0
    entry = json.loads(capsys.readouterr().out)["backends"]["fake"]
    assert entry["available"] and entry["devices"][0]["key"] == "dev0"
    assert "fp64" in entry["devices"][0]["capabilities"]


def test_info_table_names_each_backend_and_why_one_is_missing(capsys, fake_backend):
    registry.register_backend("ghost", "no_such_module_xyz:Backend")
    try:
        assert main(["info"]) == 0
    finally:
        registry.unregister_backend("ghost")
    out = capsys.readouterr().out
    assert "fake" in out and "device dev0: Fake device" in out
    assert "ghost" in out and "no_such_module_xyz" in out


def test_python_dash_m_portakern_is_the_portakern_command():
    proc = subprocess.run([sys.executable, "-m", "portakern", "info", "--json"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert "numpy" in json.loads(proc.stdout)["backends"]


def test_bad_usage_exits_2_with_a_message_not_a_traceback():
    proc = subprocess.run([sys.executable, "-m", "portakern", "info", "--no-such-flag"], capture_output=True,
                          text=True)
    assert proc.returncode == 2
    assert "unrecognized arguments: --no-such-flag" in proc.stderr and "Traceback" not in proc.stderr


def test_no_subcommand_prints_help_and_exits_2(capsys):
    assert main([]) == 2
    assert "info" in capsys.readouterr().err


def test_unknown_subcommand_exits_2(capsys):
    assert main(["frobnicate"]) == 2
    assert "invalid choice" in capsys.readouterr().err


def test_info_json_shows_the_kernel_cache_directory(capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("PORTAKERN_CACHE_DIR", str(tmp_path))
    monkeypatch.setenv("PORTAKERN_DISK_CACHE", "0")
    assert main(["info", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["cache_dir"] == str(tmp_path) and data["disk_cache"] is False
