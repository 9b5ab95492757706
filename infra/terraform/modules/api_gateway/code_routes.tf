# The routes that need code (producers/gateway/routes/code.py) go to the read Lambda
# through AWS_PROXY integrations: the Lambda runs the local gateway's own handlers, so the
# answers are the local gateway's (tests/integration/read_lambda/test_parity.py).
# tests/infra/test_read_lambda_terraform.py checks these paths against code_routes, so a
# route registered there must be added here too. Also: GET /healthz as a MOCK.

resource "aws_api_gateway_resource" "admin_stats" {
  rest_api_id = aws_api_gateway_rest_api.this.id
  parent_id   = aws_api_gateway_resource.admin.id
  path_part   = "stats"
}

resource "aws_api_gateway_resource" "admin_sandboxes" {
  rest_api_id = aws_api_gateway_rest_api.this.id
  parent_id   = aws_api_gateway_resource.admin.id
  path_part   = "sandboxes"
}

# v2: /v1/admin/sandboxes/{sandbox_id}/{retry,quarantine,release} (main.tf enqueues them)
# and /v1/admin/sandboxes/{sandbox_id}/history (the read Lambda).
resource "aws_api_gateway_resource" "admin_sandbox" {
  rest_api_id = aws_api_gateway_rest_api.this.id
  parent_id   = aws_api_gateway_resource.admin_sandboxes.id
  path_part   = "{sandbox_id}"
}

resource "aws_api_gateway_resource" "admin_sandbox_action" {
  for_each = local.admin_sandbox_actions

  rest_api_id = aws_api_gateway_rest_api.this.id
  parent_id   = aws_api_gateway_resource.admin_sandbox.id
  path_part   = each.key
}

resource "aws_api_gateway_resource" "admin_sandbox_history" {
  rest_api_id = aws_api_gateway_rest_api.this.id
  parent_id   = aws_api_gateway_resource.admin_sandbox.id
  path_part   = "history"
}

# v2: POST /v1/admin/tenants/{name}/track-tokens (the read Lambda mints: it reads the
# tenant and signs, so its role stays read-only).
resource "aws_api_gateway_resource" "admin_tenants" {
  rest_api_id = aws_api_gateway_rest_api.this.id
  parent_id   = aws_api_gateway_resource.admin.id
  path_part   = "tenants"
}

resource "aws_api_gateway_resource" "admin_tenant" {
  rest_api_id = aws_api_gateway_rest_api.this.id
  parent_id   = aws_api_gateway_resource.admin_tenants.id
  path_part   = "{name}"
}

resource "aws_api_gateway_resource" "admin_tenant_track_tokens" {
  rest_api_id = aws_api_gateway_rest_api.this.id
  parent_id   = aws_api_gateway_resource.admin_tenant.id
  path_part   = "track-tokens"
}

resource "aws_api_gateway_resource" "healthz" {
  rest_api_id = aws_api_gateway_rest_api.this.id
  parent_id   = aws_api_gateway_rest_api.this.root_resource_id
  path_part   = "healthz"
}

locals {
  # route => where it is, its method, its path parameters, and the path its invoke
  # permission names.
  code_routes = {
    sandbox = {
      resource_id     = aws_api_gateway_resource.sandbox.id
      method          = "GET"
      path            = "/v1/sandboxes/{sandbox_id}"
      path_params     = { "method.request.path.sandbox_id" = true }
      permission_path = "v1/sandboxes/*"
    }
    admin-stats = {
      resource_id     = aws_api_gateway_resource.admin_stats.id
      method          = "GET"
      path            = "/v1/admin/stats"
      path_params     = {}
      permission_path = "v1/admin/stats"
    }
    admin-sandboxes = {
      resource_id     = aws_api_gateway_resource.admin_sandboxes.id
      method          = "GET"
      path            = "/v1/admin/sandboxes"
      path_params     = {}
      permission_path = "v1/admin/sandboxes"
    }
    admin-sandbox-history = {
      resource_id     = aws_api_gateway_resource.admin_sandbox_history.id
      method          = "GET"
      path            = "/v1/admin/sandboxes/{sandbox_id}/history"
      path_params     = { "method.request.path.sandbox_id" = true }
      permission_path = "v1/admin/sandboxes/*/history"
    }
    admin-tenant-track-tokens = {
      resource_id     = aws_api_gateway_resource.admin_tenant_track_tokens.id
      method          = "POST"
      path            = "/v1/admin/tenants/{name}/track-tokens"
      path_params     = { "method.request.path.name" = true }
      permission_path = "v1/admin/tenants/*/track-tokens"
    }
  }
}

resource "aws_api_gateway_method" "code" {
  for_each = local.code_routes

  rest_api_id          = aws_api_gateway_rest_api.this.id
  resource_id          = each.value.resource_id
  http_method          = each.value.method
  authorization        = "CUSTOM"
  authorizer_id        = aws_api_gateway_authorizer.token.id
  api_key_required     = true
  request_validator_id = aws_api_gateway_request_validator.parameters.id
  request_parameters = merge(
    { "method.request.header.Authorization" = true },
    each.value.path_params,
  )
}

resource "aws_api_gateway_integration" "code" {
  for_each = local.code_routes

  rest_api_id             = aws_api_gateway_rest_api.this.id
  resource_id             = each.value.resource_id
  http_method             = aws_api_gateway_method.code[each.key].http_method
  type                    = "AWS_PROXY"
  integration_http_method = "POST"
  uri                     = var.read_lambda_invoke_arn
}

resource "aws_lambda_permission" "read_lambda" {
  for_each = local.code_routes

  statement_id  = "AllowApiGateway-${each.key}"
  action        = "lambda:InvokeFunction"
  function_name = var.read_lambda_function_name
  principal     = "apigateway.amazonaws.com"
  source_arn    = "${aws_api_gateway_rest_api.this.execution_arn}/*/${each.value.method}/${each.value.permission_path}"
}

# GET /healthz: liveness of the API itself, no token (CONTRACT.md "health routes need no
# token"). /readyz and /metrics describe a gateway process, which AWS does not have: the
# consumers serve theirs in their tasks (README "Where API Gateway differs").
resource "aws_api_gateway_method" "healthz" {
  #checkov:skip=CKV_AWS_59:liveness needs no token by contract; it answers a constant from a MOCK integration and touches no data
  #checkov:skip=CKV2_AWS_53:a GET without parameters or body: nothing to validate
  rest_api_id   = aws_api_gateway_rest_api.this.id
  resource_id   = aws_api_gateway_resource.healthz.id
  http_method   = "GET"
  authorization = "NONE"
}

resource "aws_api_gateway_integration" "healthz" {
  rest_api_id          = aws_api_gateway_rest_api.this.id
  resource_id          = aws_api_gateway_resource.healthz.id
  http_method          = aws_api_gateway_method.healthz.http_method
  type                 = "MOCK"
  passthrough_behavior = "NEVER"
  request_templates = {
    "application/json" = jsonencode({ statusCode = 200 })
  }
}

resource "aws_api_gateway_method_response" "healthz" {
  rest_api_id         = aws_api_gateway_rest_api.this.id
  resource_id         = aws_api_gateway_resource.healthz.id
  http_method         = aws_api_gateway_method.healthz.http_method
  status_code         = "200"
  response_parameters = merge(local.method_security_headers, local.method_cors_headers)
}

resource "aws_api_gateway_integration_response" "healthz" {
  rest_api_id         = aws_api_gateway_rest_api.this.id
  resource_id         = aws_api_gateway_resource.healthz.id
  http_method         = aws_api_gateway_method.healthz.http_method
  status_code         = aws_api_gateway_method_response.healthz.status_code
  response_parameters = merge(local.integration_security_headers, local.integration_cors_headers)
  response_templates = {
    "application/json" = "${local.cors_vtl}${jsonencode({ status = "ok" })}"
  }

  depends_on = [aws_api_gateway_integration.healthz]
}
