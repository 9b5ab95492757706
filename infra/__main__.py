"""``python -m infra``: the same CLI as ``sandbox-broker`` (used to spawn child processes)."""

from infra.cli import main

main()
