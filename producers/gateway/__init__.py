"""The local gateway: the ASGI stand-in for API Gateway's SQS and DynamoDB integrations."""

from producers.gateway.app import create_app

__all__ = ["create_app"]
