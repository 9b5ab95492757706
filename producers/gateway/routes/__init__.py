"""The gateway's routes, one module per audience: track, admin, health, and ``code``.

Each module's function takes what its routes share (``Gateway``, or ``Reads`` for
``code.py``) and returns an ``APIRouter``; ``producers.gateway.app.create_app`` includes
them all. ``code.py`` holds the routes that need code on AWS: the read Lambda serves that
router alone (``producers.gateway.app.create_code_app``).
"""
