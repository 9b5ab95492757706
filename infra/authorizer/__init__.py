"""The API Gateway token authorizer Lambda (its package is handler.py alone)."""
