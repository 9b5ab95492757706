# Every route resource answers every method: its own methods as in main.tf and
# code_routes.tf, OPTIONS as a CORS preflight (cors.tf), and any other method 405
# METHOD_NOT_ALLOWED with Allow, as the local gateway does. API Gateway alone would answer
# a known path with an unknown method 403 MISSING_AUTHENTICATION_TOKEN (our 404). Both
# are MOCK integrations without a token: the local gateway answers 405 before auth, too.

locals {
  # Every resource with methods: its path and its methods (the local gateway's Allow).
  route_resources = merge(
    {
      allocate        = { id = aws_api_gateway_resource.allocate.id, path = "/v1/allocate", methods = ["POST"] }
      release         = { id = aws_api_gateway_resource.mark_for_deletion.id, path = "/v1/sandboxes/{sandbox_id}/mark-for-deletion", methods = ["POST"] }
      extend          = { id = aws_api_gateway_resource.extend.id, path = "/v1/sandboxes/{sandbox_id}/extend", methods = ["POST"] }
      reply           = { id = aws_api_gateway_resource.request.id, path = "/v1/requests/{request_id}", methods = ["GET"] }
      sandbox         = { id = aws_api_gateway_resource.sandbox.id, path = "/v1/sandboxes/{sandbox_id}", methods = ["GET"] }
      admin-stats     = { id = aws_api_gateway_resource.admin_stats.id, path = "/v1/admin/stats", methods = ["GET"] }
      admin-sandboxes = { id = aws_api_gateway_resource.admin_sandboxes.id, path = "/v1/admin/sandboxes", methods = ["GET"] }
      admin-history   = { id = aws_api_gateway_resource.admin_sandbox_history.id, path = "/v1/admin/sandboxes/{sandbox_id}/history", methods = ["GET"] }
      admin-mint      = { id = aws_api_gateway_resource.admin_tenant_track_tokens.id, path = "/v1/admin/tenants/{name}/track-tokens", methods = ["POST"] }
      healthz         = { id = aws_api_gateway_resource.healthz.id, path = "/healthz", methods = ["GET"] }
    },
    {
      for slug, job in local.admin_jobs : "admin-${slug}" => {
        id      = aws_api_gateway_resource.admin_job[slug].id
        path    = "/v1/admin/${slug}"
        methods = ["POST"]
      }
    },
    {
      for slug, job in local.admin_sandbox_actions : "admin-sandbox-${slug}" => {
        id      = aws_api_gateway_resource.admin_sandbox_action[slug].id
        path    = "/v1/admin/sandboxes/{sandbox_id}/${slug}"
        methods = ["POST"]
      }
    },
  )

  # Content types a MOCK here takes a request of (any other is 415, our 400): those of
  # browsers' and curl's requests.
  mock_content_types = [
    "application/json",
    "application/x-www-form-urlencoded",
    "application/octet-stream",
    "multipart/form-data",
    "text/plain",
  ]
  method_not_allowed = jsonencode({ error = { code = "METHOD_NOT_ALLOWED", message = "method not allowed on this route" } })
  # One method response / integration response per (resource, status) of the MOCKs.
  preflight_statuses = {
    for pair in setproduct(keys(local.route_resources), ["204", "403", "405"]) :
    "${pair[0]}:${pair[1]}" => { route = pair[0], status = pair[1] }
  }
}

# ---------------------------------------------------------------------------------------
# OPTIONS: the CORS preflight
# ---------------------------------------------------------------------------------------

resource "aws_api_gateway_method" "preflight" {
  #checkov:skip=CKV2_AWS_53:a preflight carries no parameters or body to validate; the MOCK reads only its CORS headers
  for_each = local.route_resources

  rest_api_id   = aws_api_gateway_rest_api.this.id
  resource_id   = each.value.id
  http_method   = "OPTIONS"
  authorization = "NONE"
}

resource "aws_api_gateway_integration" "preflight" {
  for_each = local.route_resources

  rest_api_id          = aws_api_gateway_rest_api.this.id
  resource_id          = each.value.id
  http_method          = aws_api_gateway_method.preflight[each.key].http_method
  type                 = "MOCK"
  passthrough_behavior = "NEVER"
  request_templates    = { for t in local.mock_content_types : t => local.preflight_request }
}

resource "aws_api_gateway_method_response" "preflight" {
  for_each = local.preflight_statuses

  rest_api_id = aws_api_gateway_rest_api.this.id
  resource_id = local.route_resources[each.value.route].id
  http_method = aws_api_gateway_method.preflight[each.value.route].http_method
  status_code = each.value.status
  response_parameters = merge(local.method_security_headers, local.method_cors_headers, {
    "method.response.header.Access-Control-Allow-Methods" = false
    "method.response.header.Access-Control-Allow-Headers" = false
    "method.response.header.Access-Control-Max-Age"       = false
    "method.response.header.Allow"                        = false
  })
}

# One integration response per status, created one after the other (as main.tf's are):
# API Gateway refuses concurrent changes to one method's integration responses.
locals {
  preflight_answers = {
    for route, r in local.route_resources : route => {
      "204" = merge(local.integration_security_headers, local.integration_cors_headers, {
        "method.response.header.Access-Control-Allow-Methods" = "'${join(", ", local.cors_methods)}'"
        "method.response.header.Access-Control-Allow-Headers" = "'${join(", ", local.cors_allowed_headers)}'"
        "method.response.header.Access-Control-Max-Age"       = "'${local.cors_max_age_s}'"
      })
      "403" = merge(local.integration_security_headers, local.integration_cors_headers)
      "405" = merge(local.integration_security_headers, local.integration_cors_headers, {
        "method.response.header.Allow" = "'${join(", ", r.methods)}'"
      })
    }
  }
}

resource "aws_api_gateway_integration_response" "preflight_allowed" {
  for_each = local.route_resources

  rest_api_id         = aws_api_gateway_rest_api.this.id
  resource_id         = each.value.id
  http_method         = aws_api_gateway_method.preflight[each.key].http_method
  status_code         = aws_api_gateway_method_response.preflight["${each.key}:204"].status_code
  selection_pattern   = "204"
  response_parameters = local.preflight_answers[each.key]["204"]
  response_templates  = { "application/json" = local.preflight_answer }

  depends_on = [aws_api_gateway_integration.preflight]
}

resource "aws_api_gateway_integration_response" "preflight_refused" {
  for_each = local.route_resources

  rest_api_id         = aws_api_gateway_rest_api.this.id
  resource_id         = each.value.id
  http_method         = aws_api_gateway_method.preflight[each.key].http_method
  status_code         = aws_api_gateway_method_response.preflight["${each.key}:403"].status_code
  selection_pattern   = "403"
  response_parameters = local.preflight_answers[each.key]["403"]
  response_templates  = { "application/json" = local.preflight_answer }

  depends_on = [aws_api_gateway_integration_response.preflight_allowed]
}

# Not a preflight (no Origin or no Access-Control-Request-Method): the default answer, 405.
resource "aws_api_gateway_integration_response" "preflight_other" {
  for_each = local.route_resources

  rest_api_id         = aws_api_gateway_rest_api.this.id
  resource_id         = each.value.id
  http_method         = aws_api_gateway_method.preflight[each.key].http_method
  status_code         = aws_api_gateway_method_response.preflight["${each.key}:405"].status_code
  response_parameters = local.preflight_answers[each.key]["405"]
  response_templates  = { "application/json" = local.preflight_answer }

  depends_on = [aws_api_gateway_integration_response.preflight_refused]
}

# ---------------------------------------------------------------------------------------
# ANY other method: 405
# ---------------------------------------------------------------------------------------

resource "aws_api_gateway_method" "other" {
  #checkov:skip=CKV_AWS_59:answers 405 from a MOCK integration before any auth, as the local gateway does; touches nothing
  #checkov:skip=CKV2_AWS_53:answers 405 whatever the request carries: nothing to validate
  for_each = local.route_resources

  rest_api_id   = aws_api_gateway_rest_api.this.id
  resource_id   = each.value.id
  http_method   = "ANY"
  authorization = "NONE"
}

resource "aws_api_gateway_integration" "other" {
  for_each = local.route_resources

  rest_api_id          = aws_api_gateway_rest_api.this.id
  resource_id          = each.value.id
  http_method          = aws_api_gateway_method.other[each.key].http_method
  type                 = "MOCK"
  passthrough_behavior = "NEVER"
  request_templates    = { for t in local.mock_content_types : t => jsonencode({ statusCode = 405 }) }
}

resource "aws_api_gateway_method_response" "other" {
  for_each = local.route_resources

  rest_api_id = aws_api_gateway_rest_api.this.id
  resource_id = each.value.id
  http_method = aws_api_gateway_method.other[each.key].http_method
  status_code = "405"
  response_parameters = merge(local.method_security_headers, local.method_cors_headers, {
    "method.response.header.Allow" = false
  })
}

resource "aws_api_gateway_integration_response" "other" {
  for_each = local.route_resources

  rest_api_id = aws_api_gateway_rest_api.this.id
  resource_id = each.value.id
  http_method = aws_api_gateway_method.other[each.key].http_method
  status_code = aws_api_gateway_method_response.other[each.key].status_code
  response_parameters = merge(local.integration_security_headers, local.integration_cors_headers, {
    "method.response.header.Allow" = "'${join(", ", each.value.methods)}'"
  })
  response_templates = {
    "application/json" = "${local.cors_vtl}${local.method_not_allowed}"
  }

  depends_on = [aws_api_gateway_integration.other]
}
