"""DynamoDB stores: the only place botocore errors are translated into domain outcomes."""
