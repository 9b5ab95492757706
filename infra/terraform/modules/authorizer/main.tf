# The token authorizer Lambda: its code is infra/authorizer/handler.py (unit-tested in
# tests/infra/test_authorizer.py); the package is that one file.

data "archive_file" "package" {
  type        = "zip"
  source_file = "${path.module}/../../../authorizer/handler.py"
  output_path = "${path.module}/build/authorizer.zip"
}

resource "aws_lambda_function" "authorizer" {
  #checkov:skip=CKV_AWS_116:synchronous authorizer, API Gateway waits for its answer: there is no async event to dead-letter
  #checkov:skip=CKV_AWS_117:calls only Secrets Manager's and DynamoDB's public endpoints; a VPC would add NAT or an endpoint to the request path for nothing
  #checkov:skip=CKV_AWS_173:the environment holds secret ARNs and the usage-plan API key values, which only pick a throttling plan (callers never send them); the tokens stay in Secrets Manager
  #checkov:skip=CKV_AWS_272:a single-file package built from this repository by Terraform; no third-party code to sign
  #checkov:skip=CKV_AWS_50:its latency appears in API Gateway's X-Ray segment; Active tracing would need xray:* on "*" in the authorizer role
  function_name    = var.function_name
  description      = "Sandbox Broker bearer-token authorizer (track and admin tokens)"
  role             = var.role_arn
  runtime          = "python3.12"
  handler          = "handler.handler"
  filename         = data.archive_file.package.output_path
  source_code_hash = data.archive_file.package.output_base64sha256
  memory_size      = 128
  timeout          = 5

  reserved_concurrent_executions = var.reserved_concurrency

  environment {
    variables = {
      TRACK_TOKEN_SECRET_ARN = var.track_token_secret_arn
      ADMIN_TOKEN_SECRET_ARN = var.admin_token_secret_arn
      TOKEN_CACHE_TTL_S      = tostring(var.token_cache_ttl_s)
      TENANTS_TABLE          = var.tenants_table_name
      TENANT_CACHE_TTL_S     = tostring(var.token_cache_ttl_s)
      SIGNING_SECRET_ARN     = var.signing_secret_arn
      TRACK_USAGE_KEY        = var.usage_keys["track"]
      ADMIN_USAGE_KEY        = var.usage_keys["admin"]
    }
  }

  logging_config {
    log_format = "Text"
    log_group  = var.log_group_name
  }
}
