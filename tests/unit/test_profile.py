"""The local profile: written private, read as defaults of the environment, stale when its
``up`` is gone."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from infra.embedded import profile


def test_written_private_and_removed_only_by_its_writer(tmp_path) -> None:
    path = tmp_path / "p.json"
    assert profile.write(path, {"BROKER_NAME_PREFIX": "x"}) is None
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    found = profile.read(path)
    assert found is not None and found.pid == os.getpid()
    path.write_text(json.dumps({"pid": os.getpid() + 100_000, "env": {}}))
    profile.remove(path)  # another `up`'s profile: left alone
    assert path.exists()


def test_values_are_defaults_an_exported_variable_wins(tmp_path, monkeypatch) -> None:
    path = tmp_path / "p.json"
    monkeypatch.setattr(profile.Profile, "alive", property(lambda self: True))
    path.write_text(json.dumps({"pid": 1, "env": {"BROKER_A": "profile", "BROKER_B": "profile"}}))
    monkeypatch.setenv("BROKER_A", "exported")
    monkeypatch.delenv("BROKER_B", raising=False)
    assert profile.apply(path, explicit=False) is None
    assert os.environ["BROKER_A"] == "exported"
    assert os.environ["BROKER_B"] == "profile"


def test_a_profile_whose_up_is_gone_is_ignored_with_a_note(tmp_path, monkeypatch) -> None:
    gone = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    path = tmp_path / "p.json"
    path.write_text(json.dumps({"pid": int(gone.stdout), "env": {"BROKER_STALE": "1"}}))
    monkeypatch.delenv("BROKER_STALE", raising=False)
    note = profile.apply(path, explicit=False)
    assert note is not None and "not running" in note
    assert "BROKER_STALE" not in os.environ


@pytest.mark.parametrize(
    ("option", "env", "expected"),
    [
        (None, None, "default"),
        ("none", None, None),
        (None, "NONE", None),
        ("/x/p.json", "/y/q.json", "/x/p.json"),
        (None, "/y/q.json", "/y/q.json"),
    ],
)
def test_which_file(option, env, expected, monkeypatch) -> None:
    if env is None:
        monkeypatch.delenv(profile.PROFILE_ENV, raising=False)
    else:
        monkeypatch.setenv(profile.PROFILE_ENV, env)
    got = profile.chosen(option)
    if expected == "default":
        assert got == profile.default_path()
    else:
        assert (str(got) if got else None) == expected
