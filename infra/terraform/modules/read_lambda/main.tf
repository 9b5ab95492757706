# The read Lambda: the gateway's code routes (producers/gateway/routes/code.py) behind
# API Gateway's proxy integration, through Mangum (infra/read_lambda/handler.py). One
# implementation of each route, two hosts: tests/integration/read_lambda/test_parity.py.
#
# Packaged from this repository by `python3 dev.py lambda` (README "First deploy"):
# build/read-lambda/function/ holds our packages, build/read-lambda/layer/python/ the
# runtime lock's wheels for python3.12 x86_64 (pip --platform manylinux2014_x86_64
# --only-binary: no compiler, no Docker). Terraform zips both here.

locals {
  # build/read-lambda at the repository's root (dev.py LAMBDA_BUILD)
  build = "${path.module}/../../../../build/read-lambda"
}

data "archive_file" "function" {
  type        = "zip"
  source_dir  = "${local.build}/function"
  output_path = "${local.build}/function.zip"
}

data "archive_file" "layer" {
  type        = "zip"
  source_dir  = "${local.build}/layer"
  output_path = "${local.build}/layer.zip"
}

resource "aws_lambda_layer_version" "dependencies" {
  layer_name               = "${var.function_name}-dependencies"
  description              = "Runtime dependencies of the read Lambda (requirements/runtime.txt, hashed)"
  filename                 = data.archive_file.layer.output_path
  source_code_hash         = data.archive_file.layer.output_base64sha256
  compatible_runtimes      = ["python3.12"]
  compatible_architectures = ["x86_64"]
}

resource "aws_lambda_function" "read" {
  #checkov:skip=CKV_AWS_116:synchronous proxy integration, API Gateway waits for the answer: there is no async event to dead-letter
  #checkov:skip=CKV_AWS_117:calls only DynamoDB's and Secrets Manager's public endpoints; a VPC would add NAT or endpoints to every read for nothing
  #checkov:skip=CKV_AWS_173:the environment holds names and secret ARNs only; the tokens stay in Secrets Manager
  #checkov:skip=CKV_AWS_272:built from this repository and its hashed lock by dev.py; no third-party artefact to sign
  #checkov:skip=CKV_AWS_50:its latency appears in API Gateway's X-Ray segment; Active tracing would need xray:* on "*" in its role
  function_name                  = var.function_name
  description                    = "Sandbox Broker reads that need code: a track's sandbox, pool stats, pool pages"
  role                           = var.role_arn
  runtime                        = "python3.12"
  architectures                  = ["x86_64"]
  handler                        = "infra.read_lambda.handler.handler"
  filename                       = data.archive_file.function.output_path
  source_code_hash               = data.archive_file.function.output_base64sha256
  layers                         = [aws_lambda_layer_version.dependencies.arn]
  memory_size                    = var.memory_mb
  timeout                        = var.timeout_s
  reserved_concurrent_executions = var.reserved_concurrency

  environment {
    variables = {
      BROKER_NAME_PREFIX              = var.name_prefix
      BROKER_TRACK_TOKEN_SECRET_ARN   = var.track_token_secret_arn
      BROKER_ADMIN_TOKEN_SECRET_ARN   = var.admin_token_secret_arn
      BROKER_TOKEN_CACHE_TTL_S        = tostring(var.token_cache_ttl_s)
      BROKER_TOKEN_SIGNING_SECRET_ARN = var.signing_secret_arn
      BROKER_CORS_ORIGINS             = join(",", var.cors_origins)
      BROKER_LOG_FORMAT               = "json"
    }
  }

  logging_config {
    # The handler writes JSON lines itself (structlog); Lambda's JSON format would wrap them.
    log_format = "Text"
    log_group  = var.log_group_name
  }
}
