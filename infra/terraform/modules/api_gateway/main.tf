# REST API with direct service integrations (CONTRACT.md "HTTP API"): POST routes are SQS
# SendMessage calls whose request templates build the contract's message, the reply read
# is a DynamoDB GetItem; the only Lambda is the token authorizer. Templates live in
# infra/apigw/*.vtl and are tested by rendering them (tests/infra/test_api_gateway_vtl.py).

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}
data "aws_region" "current" {}

locals {
  vtl     = "${path.module}/../../../apigw"
  prelude = file("${local.vtl}/prelude.vtl")

  # Admin route slug => job message type (schemas.messages.ADMIN_JOBS).
  admin_jobs = {
    sync           = "sync"
    cleanup        = "cleanup"
    expire         = "expire"
    "delete-stale" = "delete_stale"
  }
  # v2 operator action slug => job message type (schemas.messages.ADMIN_SANDBOX_ACTIONS).
  admin_sandbox_actions = {
    retry      = "retry"
    quarantine = "quarantine"
    release    = "force_release"
  }

  sqs_path = "arn:${data.aws_partition.current.partition}:apigateway:${data.aws_region.current.name}:sqs:path/${data.aws_caller_identity.current.account_id}"

  # Every route that enqueues: where, onto which queue, with which request template.
  enqueue_routes = merge(
    {
      allocate = {
        resource_id = aws_api_gateway_resource.allocate.id
        queue_name  = var.requests_queue_name
        action      = "allocate"
        path_params = {}
        template    = templatefile("${local.vtl}/allocate.vtl", { prelude = local.prelude })
      }
      release = {
        resource_id = aws_api_gateway_resource.mark_for_deletion.id
        queue_name  = var.requests_queue_name
        action      = "release"
        path_params = { "method.request.path.sandbox_id" = true }
        template    = templatefile("${local.vtl}/mark_for_deletion.vtl", { prelude = local.prelude })
      }
      extend = {
        resource_id = aws_api_gateway_resource.extend.id
        queue_name  = var.requests_queue_name
        action      = "extend"
        path_params = { "method.request.path.sandbox_id" = true }
        template    = templatefile("${local.vtl}/extend.vtl", { prelude = local.prelude })
      }
    },
    {
      for slug, job in local.admin_jobs : "admin-${slug}" => {
        resource_id = aws_api_gateway_resource.admin_job[slug].id
        queue_name  = var.jobs_queue_name
        action      = job
        path_params = {}
        template = templatefile("${local.vtl}/admin_job.vtl", {
          prelude  = local.prelude
          job_type = job
        })
      }
    },
    {
      for slug, job in local.admin_sandbox_actions : "admin-sandbox-${slug}" => {
        resource_id = aws_api_gateway_resource.admin_sandbox_action[slug].id
        queue_name  = var.jobs_queue_name
        action      = job
        path_params = { "method.request.path.sandbox_id" = true }
        template = templatefile("${local.vtl}/admin_sandbox_action.vtl", {
          prelude  = local.prelude
          job_type = job
        })
      }
    },
  )

  # Headers every answer carries (CONTRACT.md): API Gateway only serves HTTPS, so HSTS too.
  security_headers = {
    "X-Content-Type-Options"    = "'nosniff'"
    "X-Frame-Options"           = "'DENY'"
    "Referrer-Policy"           = "'no-referrer'"
    "Cache-Control"             = "'no-store'"
    "Strict-Transport-Security" = "'max-age=31536000; includeSubDomains'"
  }
  method_security_headers      = { for h, _ in local.security_headers : "method.response.header.${h}" => false }
  integration_security_headers = { for h, v in local.security_headers : "method.response.header.${h}" => v }

  error_content_type = { "application/json" = "Error" }
}

resource "aws_api_gateway_rest_api" "this" {
  name        = var.stem
  description = "Sandbox Broker: allocate and release lab sandboxes through SQS FIFO"
  # The authorizer names the usage plan (track or admin) of each caller: callers never
  # see or send an API key.
  #checkov:skip=CKV_SECRET_6:"AUTHORIZER" names where API keys come from, it is not a key
  api_key_source = "AUTHORIZER"

  # A replaced API (new name) is up before the old one goes, like its deployments.
  lifecycle {
    create_before_destroy = true
  }

  endpoint_configuration {
    types = ["REGIONAL"]
  }
}

# ---------------------------------------------------------------------------------------
# Resources (paths)
# ---------------------------------------------------------------------------------------

resource "aws_api_gateway_resource" "v1" {
  rest_api_id = aws_api_gateway_rest_api.this.id
  parent_id   = aws_api_gateway_rest_api.this.root_resource_id
  path_part   = "v1"
}

resource "aws_api_gateway_resource" "allocate" {
  rest_api_id = aws_api_gateway_rest_api.this.id
  parent_id   = aws_api_gateway_resource.v1.id
  path_part   = "allocate"
}

resource "aws_api_gateway_resource" "sandboxes" {
  rest_api_id = aws_api_gateway_rest_api.this.id
  parent_id   = aws_api_gateway_resource.v1.id
  path_part   = "sandboxes"
}

resource "aws_api_gateway_resource" "sandbox" {
  rest_api_id = aws_api_gateway_rest_api.this.id
  parent_id   = aws_api_gateway_resource.sandboxes.id
  path_part   = "{sandbox_id}"
}

resource "aws_api_gateway_resource" "mark_for_deletion" {
  rest_api_id = aws_api_gateway_rest_api.this.id
  parent_id   = aws_api_gateway_resource.sandbox.id
  path_part   = "mark-for-deletion"
}

resource "aws_api_gateway_resource" "extend" {
  rest_api_id = aws_api_gateway_rest_api.this.id
  parent_id   = aws_api_gateway_resource.sandbox.id
  path_part   = "extend"
}

resource "aws_api_gateway_resource" "requests" {
  rest_api_id = aws_api_gateway_rest_api.this.id
  parent_id   = aws_api_gateway_resource.v1.id
  path_part   = "requests"
}

resource "aws_api_gateway_resource" "request" {
  rest_api_id = aws_api_gateway_rest_api.this.id
  parent_id   = aws_api_gateway_resource.requests.id
  path_part   = "{request_id}"
}

resource "aws_api_gateway_resource" "admin" {
  rest_api_id = aws_api_gateway_rest_api.this.id
  parent_id   = aws_api_gateway_resource.v1.id
  path_part   = "admin"
}

resource "aws_api_gateway_resource" "admin_job" {
  for_each = local.admin_jobs

  rest_api_id = aws_api_gateway_rest_api.this.id
  parent_id   = aws_api_gateway_resource.admin.id
  path_part   = each.key
}

# ---------------------------------------------------------------------------------------
# Authorizer and validation
# ---------------------------------------------------------------------------------------

resource "aws_api_gateway_authorizer" "token" {
  name            = "${var.stem}-token"
  rest_api_id     = aws_api_gateway_rest_api.this.id
  type            = "TOKEN"
  authorizer_uri  = var.authorizer_invoke_arn
  identity_source = "method.request.header.Authorization"
  # Not even shaped like a bearer token: 401 without invoking the Lambda.
  identity_validation_expression   = "^[Bb]earer [^ ]+$"
  authorizer_result_ttl_in_seconds = var.authorizer_cache_ttl_s
}

resource "aws_lambda_permission" "authorizer" {
  statement_id  = "AllowApiGatewayInvoke"
  action        = "lambda:InvokeFunction"
  function_name = var.authorizer_function_name
  principal     = "apigateway.amazonaws.com"
  source_arn    = "${aws_api_gateway_rest_api.this.execution_arn}/authorizers/${aws_api_gateway_authorizer.token.id}"
}

# Required parameters (Authorization, path ids) are checked before the integration runs.
# The value rules of optional headers cannot be expressed here: the templates apply them.
resource "aws_api_gateway_request_validator" "parameters" {
  name                        = "parameters"
  rest_api_id                 = aws_api_gateway_rest_api.this.id
  validate_request_parameters = true
  validate_request_body       = false
}

# ---------------------------------------------------------------------------------------
# POST routes -> SQS SendMessage
# ---------------------------------------------------------------------------------------

resource "aws_api_gateway_method" "enqueue" {
  for_each = local.enqueue_routes

  rest_api_id          = aws_api_gateway_rest_api.this.id
  resource_id          = each.value.resource_id
  http_method          = "POST"
  authorization        = "CUSTOM"
  authorizer_id        = aws_api_gateway_authorizer.token.id
  api_key_required     = true
  request_validator_id = aws_api_gateway_request_validator.parameters.id
  request_parameters = merge(
    { "method.request.header.Authorization" = true },
    each.value.path_params,
  )
}

resource "aws_api_gateway_integration" "enqueue" {
  for_each = local.enqueue_routes

  rest_api_id             = aws_api_gateway_rest_api.this.id
  resource_id             = each.value.resource_id
  http_method             = aws_api_gateway_method.enqueue[each.key].http_method
  type                    = "AWS"
  integration_http_method = "POST"
  uri                     = "${local.sqs_path}/${each.value.queue_name}"
  credentials             = var.integration_role_arn
  # No template for a content type: 415, never a raw body passed to SQS.
  passthrough_behavior = "NEVER"
  request_parameters = {
    "integration.request.header.Content-Type" = "'application/x-www-form-urlencoded'"
  }
  # curl -d sends form or text content types; the template checks the body either way.
  request_templates = {
    "application/json"                  = each.value.template
    "application/x-www-form-urlencoded" = each.value.template
    "text/plain"                        = each.value.template
  }
}

resource "aws_api_gateway_method_response" "enqueue" {
  for_each = {
    for pair in setproduct(keys(local.enqueue_routes), ["202", "400", "413", "503"]) :
    "${pair[0]}:${pair[1]}" => { route = pair[0], status = pair[1] }
  }

  rest_api_id = aws_api_gateway_rest_api.this.id
  resource_id = local.enqueue_routes[each.value.route].resource_id
  http_method = aws_api_gateway_method.enqueue[each.value.route].http_method
  status_code = each.value.status
  response_parameters = merge(local.method_security_headers, local.method_cors_headers, {
    "method.response.header.Location"    = false
    "method.response.header.Retry-After" = false
  })
}

resource "aws_api_gateway_integration_response" "enqueue_accepted" {
  for_each = local.enqueue_routes

  rest_api_id = aws_api_gateway_rest_api.this.id
  resource_id = each.value.resource_id
  http_method = aws_api_gateway_method.enqueue[each.key].http_method
  status_code = aws_api_gateway_method_response.enqueue["${each.key}:202"].status_code
  response_parameters = merge(local.integration_security_headers, local.integration_cors_headers, {
    "method.response.header.Retry-After" = "'1'"
  })
  response_templates = {
    "application/json" = "${local.cors_vtl}${templatefile("${local.vtl}/enqueue_accepted.vtl", { action = each.value.action })}"
  }

  depends_on = [aws_api_gateway_integration.enqueue]
}

resource "aws_api_gateway_integration_response" "enqueue_rejected" {
  for_each = local.enqueue_routes

  rest_api_id         = aws_api_gateway_rest_api.this.id
  resource_id         = each.value.resource_id
  http_method         = aws_api_gateway_method.enqueue[each.key].http_method
  status_code         = aws_api_gateway_method_response.enqueue["${each.key}:400"].status_code
  selection_pattern   = "4\\d{2}"
  response_parameters = merge(local.integration_security_headers, local.integration_cors_headers)
  response_templates = {
    "application/json" = "${local.cors_vtl}${file("${local.vtl}/enqueue_rejected.vtl")}"
  }

  depends_on = [aws_api_gateway_integration_response.enqueue_accepted]
}

resource "aws_api_gateway_integration_response" "enqueue_failed" {
  for_each = local.enqueue_routes

  rest_api_id       = aws_api_gateway_rest_api.this.id
  resource_id       = each.value.resource_id
  http_method       = aws_api_gateway_method.enqueue[each.key].http_method
  status_code       = aws_api_gateway_method_response.enqueue["${each.key}:503"].status_code
  selection_pattern = "5\\d{2}"
  response_parameters = merge(local.integration_security_headers, local.integration_cors_headers, {
    "method.response.header.Retry-After" = "'1'"
  })
  response_templates = {
    "application/json" = "${local.cors_vtl}${jsonencode({ error = { code = "QUEUE_UNAVAILABLE", message = "the queue did not answer; retry later" } })}"
  }

  depends_on = [aws_api_gateway_integration_response.enqueue_rejected]
}

# ---------------------------------------------------------------------------------------
# GET /v1/requests/{request_id} -> DynamoDB GetItem
# ---------------------------------------------------------------------------------------

resource "aws_api_gateway_method" "get_reply" {
  rest_api_id          = aws_api_gateway_rest_api.this.id
  resource_id          = aws_api_gateway_resource.request.id
  http_method          = "GET"
  authorization        = "CUSTOM"
  authorizer_id        = aws_api_gateway_authorizer.token.id
  api_key_required     = true
  request_validator_id = aws_api_gateway_request_validator.parameters.id
  request_parameters = {
    "method.request.header.Authorization" = true
    "method.request.path.request_id"      = true
  }
}

resource "aws_api_gateway_integration" "get_reply" {
  rest_api_id             = aws_api_gateway_rest_api.this.id
  resource_id             = aws_api_gateway_resource.request.id
  http_method             = aws_api_gateway_method.get_reply.http_method
  type                    = "AWS"
  integration_http_method = "POST"
  uri                     = "arn:${data.aws_partition.current.partition}:apigateway:${data.aws_region.current.name}:dynamodb:action/GetItem"
  credentials             = var.integration_role_arn
  passthrough_behavior    = "NEVER"
  request_templates = {
    "application/json" = templatefile("${local.vtl}/get_reply_request.vtl", {
      prelude       = local.prelude
      replies_table = var.replies_table_name
    })
  }
}

resource "aws_api_gateway_method_response" "get_reply" {
  for_each = toset(["200", "400", "404", "503"])

  rest_api_id = aws_api_gateway_rest_api.this.id
  resource_id = aws_api_gateway_resource.request.id
  http_method = aws_api_gateway_method.get_reply.http_method
  status_code = each.key
  response_parameters = merge(local.method_security_headers, local.method_cors_headers, {
    "method.response.header.Retry-After" = false
  })
}

resource "aws_api_gateway_integration_response" "get_reply_found" {
  rest_api_id = aws_api_gateway_rest_api.this.id
  resource_id = aws_api_gateway_resource.request.id
  http_method = aws_api_gateway_method.get_reply.http_method
  status_code = aws_api_gateway_method_response.get_reply["200"].status_code
  # Retry-After: 1 is advice for polling a pending reply. A mapping template can set
  # $context.responseOverride.header.<Name> only for names without a hyphen, so it is a
  # static header here; a client stops polling at a terminal status anyway.
  response_parameters = merge(local.integration_security_headers, local.integration_cors_headers, {
    "method.response.header.Retry-After" = "'1'"
  })
  response_templates = {
    "application/json" = "${local.cors_vtl}${templatefile("${local.vtl}/get_reply_response.vtl", { prelude = local.prelude })}"
  }

  depends_on = [aws_api_gateway_integration.get_reply]
}

resource "aws_api_gateway_integration_response" "get_reply_rejected" {
  rest_api_id         = aws_api_gateway_rest_api.this.id
  resource_id         = aws_api_gateway_resource.request.id
  http_method         = aws_api_gateway_method.get_reply.http_method
  status_code         = aws_api_gateway_method_response.get_reply["400"].status_code
  selection_pattern   = "4\\d{2}"
  response_parameters = merge(local.integration_security_headers, local.integration_cors_headers)
  response_templates = {
    "application/json" = "${local.cors_vtl}${file("${local.vtl}/get_reply_rejected.vtl")}"
  }

  depends_on = [aws_api_gateway_integration_response.get_reply_found]
}

resource "aws_api_gateway_integration_response" "get_reply_failed" {
  rest_api_id       = aws_api_gateway_rest_api.this.id
  resource_id       = aws_api_gateway_resource.request.id
  http_method       = aws_api_gateway_method.get_reply.http_method
  status_code       = aws_api_gateway_method_response.get_reply["503"].status_code
  selection_pattern = "5\\d{2}"
  response_parameters = merge(local.integration_security_headers, local.integration_cors_headers, {
    "method.response.header.Retry-After" = "'1'"
  })
  response_templates = {
    "application/json" = "${local.cors_vtl}${jsonencode({ error = { code = "QUEUE_UNAVAILABLE", message = "the reply table did not answer; retry later" } })}"
  }

  depends_on = [aws_api_gateway_integration_response.get_reply_rejected]
}
