"""Pydantic models shared by every part of the Sandbox Broker: no I/O, no environment reads."""
