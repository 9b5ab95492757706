"""The gateway's routes, one module per audience: track, admin, health.

Each module's function takes the ``Gateway`` (what every route shares) and returns an
``APIRouter``; ``producers.gateway.app.create_app`` includes them.
"""
