"""The CSP (cloud service portal) client: accounts to list, accounts to delete.

``CspClient`` wraps each call in a circuit breaker, retries with jitter and a rate limit;
``CspError`` and its two children are all it raises about the CSP.
"""

from consumers.csp.breaker import CircuitBreaker, CircuitState
from consumers.csp.client import CspClient, RetryPolicy, csp_http_client, rate_limiter
from consumers.csp.errors import CspError, CspResponseError, CspUnavailableError
from consumers.csp.metrics import CspMetrics
from consumers.csp.models import CspAccount, DeleteOutcome

__all__ = [
    "CircuitBreaker",
    "CircuitState",
    "CspAccount",
    "CspClient",
    "CspError",
    "CspMetrics",
    "CspResponseError",
    "CspUnavailableError",
    "DeleteOutcome",
    "RetryPolicy",
    "csp_http_client",
    "rate_limiter",
]
