"""A FastStream broker for Amazon SQS (standard and FIFO) on aiobotocore."""
