# syntax=docker/dockerfile:1
# The Sandbox Broker image: one image, one process per container, chosen by the command:
#   sandbox-broker consumer | gateway | scheduler | infra provision | fake-csp
# On AWS only the consumer runs in it (ECS Fargate); API Gateway and EventBridge Scheduler
# stand in for the gateway and the scheduler. Health checks live with each deployment
# (docker-compose.localstack.yml, the ECS task definition): they differ per command.

FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/broker
WORKDIR /src
# The runtime lock alone (hashed; no moto, Flask, docker SDK or cfn-lint: those are the
# `embedded` and `dev` extras), then the SQS broker package (packages/faststream-sqs) and
# the project on top of it without resolving anything.
COPY requirements/runtime.txt ./requirements/runtime.txt
RUN /opt/broker/bin/pip install --require-hashes -r requirements/runtime.txt
COPY pyproject.toml README.md ./
COPY schemas ./schemas
COPY packages/faststream-sqs ./packages/faststream-sqs
COPY consumers ./consumers
COPY producers ./producers
COPY infra ./infra
RUN /opt/broker/bin/pip install --no-deps ./packages/faststream-sqs .

# Only the installed environment moves on: no sources, no build leftovers.
FROM python:3.11-slim
ENV PATH=/opt/broker/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    BROKER_LOG_FORMAT=json
COPY --from=build /opt/broker /opt/broker
RUN useradd --system --uid 10001 --home-dir /nonexistent --shell /usr/sbin/nologin broker
USER 10001
# gateway (BROKER_PORT), consumer (BROKER_HTTP_PORT)
EXPOSE 8000 8001
CMD ["sandbox-broker", "consumer"]
