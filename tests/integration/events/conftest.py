from __future__ import annotations

from tests.integration.consumers.conftest import alloc_env

__all__ = ["alloc_env"]
