# Deployment, stage, access logs, throttling (stage-wide and per role), optional domain.

resource "aws_api_gateway_deployment" "this" {
  rest_api_id = aws_api_gateway_rest_api.this.id

  # A new deployment whenever a route, integration, template or answer changes.
  triggers = {
    redeployment = sha1(jsonencode([
      aws_api_gateway_resource.v1.id,
      [for r in aws_api_gateway_resource.admin_job : r.id],
      [for r in aws_api_gateway_resource.admin_sandbox_action : r.id],
      [for m in aws_api_gateway_method.enqueue : m.id],
      [for i in aws_api_gateway_integration.enqueue : i.request_templates],
      [for r in aws_api_gateway_integration_response.enqueue_accepted : r.response_templates],
      [for r in aws_api_gateway_integration_response.enqueue_rejected : r.response_templates],
      [for r in aws_api_gateway_integration_response.enqueue_failed : r.response_templates],
      aws_api_gateway_method.get_reply.id,
      aws_api_gateway_integration.get_reply.request_templates,
      aws_api_gateway_integration_response.get_reply_found.response_templates,
      aws_api_gateway_integration_response.get_reply_rejected.response_templates,
      aws_api_gateway_integration_response.get_reply_failed.response_templates,
      [for r in aws_api_gateway_gateway_response.contract : r.response_templates],
      [for r in aws_api_gateway_gateway_response.contract : r.response_parameters],
      aws_api_gateway_authorizer.token.id,
      # code_routes.tf and methods.tf
      [for m in aws_api_gateway_method.code : m.id],
      [for i in aws_api_gateway_integration.code : i.uri],
      aws_api_gateway_method.healthz.id,
      aws_api_gateway_integration_response.healthz.response_templates,
      [for m in aws_api_gateway_method.preflight : m.id],
      [for i in aws_api_gateway_integration.preflight : i.request_templates],
      [for r in aws_api_gateway_integration_response.preflight_allowed : [r.response_templates, r.response_parameters]],
      [for r in aws_api_gateway_integration_response.preflight_refused : [r.response_templates, r.response_parameters]],
      [for r in aws_api_gateway_integration_response.preflight_other : [r.response_templates, r.response_parameters]],
      [for m in aws_api_gateway_method.other : m.id],
      [for r in aws_api_gateway_integration_response.other : [r.response_templates, r.response_parameters]],
    ]))
  }

  lifecycle {
    create_before_destroy = true
  }

  depends_on = [
    aws_api_gateway_integration_response.enqueue_failed,
    aws_api_gateway_integration_response.get_reply_failed,
    aws_api_gateway_gateway_response.contract,
    aws_api_gateway_integration.code,
    aws_api_gateway_integration_response.healthz,
    aws_api_gateway_integration_response.preflight_other,
    aws_api_gateway_integration_response.other,
  ]
}

locals {
  # One JSON object per request, on the application's field names where they exist
  # (request_id, latency_ms, ...). Only values API Gateway always fills are unquoted.
  access_log_fields = {
    request_id             = "\"$context.requestId\""
    level                  = "\"info\""
    event                  = "\"api_request\""
    method                 = "\"$context.httpMethod\""
    path                   = "\"$context.resourcePath\""
    status                 = "$context.status"
    latency_ms             = "$context.responseLatency"
    integration_latency_ms = "\"$context.integrationLatency\""
    integration_status     = "\"$context.integrationStatus\""
    role                   = "\"$context.authorizer.role\""
    error                  = "\"$context.error.message\""
    source_ip              = "\"$context.identity.sourceIp\""
    request_time_epoch_ms  = "$context.requestTimeEpoch"
  }
  access_log_format = "{${join(",", [for k, v in local.access_log_fields : "\"${k}\":${v}"])}}"
}

# Access logs need the account's CloudWatch role set (count from a plain variable: the
# role's ARN is known only after apply, too late to decide count).
resource "aws_api_gateway_account" "this" {
  count = var.manage_account_logging_role ? 1 : 0

  cloudwatch_role_arn = var.cloudwatch_role_arn
}

resource "aws_api_gateway_stage" "this" {
  #checkov:skip=CKV_AWS_120:every answer is per request (202 with a fresh request id, a reply that changes from pending to final): a cache would serve stale replies
  #checkov:skip=CKV2_AWS_29:protected by the web ACL of modules/waf (aws_wafv2_web_acl_association.stage, per-track rate rules); checkov does not follow an association made in another module
  #checkov:skip=CKV2_AWS_51:callers are lab scripts with bearer tokens; mutual TLS client certificates are not part of the contract
  rest_api_id          = aws_api_gateway_rest_api.this.id
  deployment_id        = aws_api_gateway_deployment.this.id
  stage_name           = var.stage_name
  xray_tracing_enabled = true

  access_log_settings {
    destination_arn = var.access_log_group_arn
    format          = local.access_log_format
  }

  depends_on = [aws_api_gateway_account.this]
}

resource "aws_api_gateway_method_settings" "all" {
  #checkov:skip=CKV_AWS_225:no caching on purpose (replies change from pending to final), see the stage
  rest_api_id = aws_api_gateway_rest_api.this.id
  stage_name  = aws_api_gateway_stage.this.stage_name
  method_path = "*/*"

  settings {
    metrics_enabled = true
    logging_level   = "ERROR"
    # Full request/response logging would write bearer tokens to CloudWatch.
    data_trace_enabled     = false
    throttling_rate_limit  = var.stage_rate_limit_per_s
    throttling_burst_limit = var.stage_burst_limit
    caching_enabled        = false
    cache_data_encrypted   = true
  }
}

# Separate budgets for track and admin calls (CONTRACT.md "Rate limit"): the authorizer
# returns the role's key as usageIdentifierKey, callers never handle API keys. The track
# plan is all tracks' budget together, sized for the declared event (throttling.tf at the
# root); one track's own budget is the WAF rule (modules/waf).
locals {
  usage_plans = {
    track = { rate_per_s = var.track_plan_rate_per_s, burst = var.track_plan_burst }
    admin = { rate_per_s = var.admin_rate_limit_per_min / 60, burst = var.admin_rate_limit_burst }
  }
}

resource "aws_api_gateway_api_key" "role" {
  for_each = local.usage_plans

  name        = "${var.stem}-${each.key}"
  description = "Usage plan key of the ${each.key} role (handed out by the authorizer only)"
  enabled     = true
}

resource "aws_api_gateway_usage_plan" "role" {
  for_each = local.usage_plans

  name        = "${var.stem}-${each.key}"
  description = "Throttling budget of ${each.key} calls"

  api_stages {
    api_id = aws_api_gateway_rest_api.this.id
    stage  = aws_api_gateway_stage.this.stage_name
  }

  throttle_settings {
    rate_limit  = each.value.rate_per_s
    burst_limit = each.value.burst
  }
}

resource "aws_api_gateway_usage_plan_key" "role" {
  for_each = local.usage_plans

  key_id        = aws_api_gateway_api_key.role[each.key].id
  key_type      = "API_KEY"
  usage_plan_id = aws_api_gateway_usage_plan.role[each.key].id
}

# Optional custom domain: the contract's absolute paths (Location: /v1/requests/<id>)
# then resolve without the stage name in front. Point a DNS record at the regional name.
resource "aws_api_gateway_domain_name" "this" {
  count = var.domain_name == "" ? 0 : 1

  domain_name              = var.domain_name
  regional_certificate_arn = var.certificate_arn
  security_policy          = "TLS_1_2"

  endpoint_configuration {
    types = ["REGIONAL"]
  }
}

resource "aws_api_gateway_base_path_mapping" "this" {
  count = var.domain_name == "" ? 0 : 1

  api_id      = aws_api_gateway_rest_api.this.id
  stage_name  = aws_api_gateway_stage.this.stage_name
  domain_name = aws_api_gateway_domain_name.this[0].domain_name
}
