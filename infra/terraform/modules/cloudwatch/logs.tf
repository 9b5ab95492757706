# Log groups, the seeds' metric filters and saved Insights queries rewritten for this
# system's structured log lines (structlog JSON, one object per line, DESIGN.md fields:
# level, event, request_id, action, outcome, latency_ms, track_id, sandbox_id,
# message_group, receive_count). Fixed on the way from the old system:
# - levels are lower case ("error"), as structlog writes them, not "ERROR";
# - actions are message types (allocate, release, sync, ...), outcomes the reply statuses
#   (succeeded / failed / no_sandboxes), not "allocate_sandbox" / "success";
# - no free-text matching on a "message" field: events have names.

locals {
  namespace = "SandboxBroker/${var.stem}"
  job_actions = ["sync", "cleanup", "expire", "delete_stale", "delete_sandbox"]
  job_filter  = join(" || ", [for a in local.job_actions : "$.action = \"${a}\""])

  log_groups = {
    consumer   = "/ecs/${var.stem}/consumer"
    authorizer  = "/aws/lambda/${var.authorizer_function_name}"
    read_lambda = "/aws/lambda/${var.read_lambda_function_name}"
    access     = "/aws/apigateway/${var.stem}/access"
  }

  # name => pattern, value, unit (on the consumer's log group)
  metric_filters = {
    ConsumerErrors = {
      pattern = "{ $.level = \"error\" || $.level = \"critical\" }"
      value   = "1"
      unit    = "Count"
    }
    NoSandboxesAvailable = {
      pattern = "{ $.action = \"allocate\" && $.outcome = \"no_sandboxes\" }"
      value   = "1"
      unit    = "Count"
    }
    SlowMessages = {
      pattern = "{ $.latency_ms > 1000 }"
      value   = "1"
      unit    = "Count"
    }
    JobFailures = {
      pattern = "{ (${local.job_filter}) && $.outcome = \"failed\" }"
      value   = "1"
      unit    = "Count"
    }
    CspErrors = {
      pattern = "{ $.event = \"csp_*\" && ($.level = \"error\" || $.level = \"warning\") }"
      value   = "1"
      unit    = "Count"
    }
    Redeliveries = {
      pattern = "{ $.receive_count > 1 }"
      value   = "1"
      unit    = "Count"
    }
    # v2 drain guard: every new lease (the allocation_surge alarm's baseline).
    Allocations = {
      pattern = "{ $.event = \"sandbox_allocated\" && $.tenant = \"*\" }"
      value   = "1"
      unit    = "Count"
    }
  }
}

resource "aws_cloudwatch_log_group" "this" {
  #checkov:skip=CKV_AWS_158:operational logs with no secrets or personal data; the default CloudWatch Logs encryption is enough
  #checkov:skip=CKV_AWS_338:operational logs kept log_retention_days (30 by default, as the old system settled on for cost); raise it where audits need a year
  for_each = local.log_groups

  name              = each.value
  retention_in_days = var.log_retention_days
}

resource "aws_cloudwatch_log_metric_filter" "consumer" {
  for_each = local.metric_filters

  name           = "${var.stem}-${each.key}"
  log_group_name = aws_cloudwatch_log_group.this["consumer"].name
  pattern        = each.value.pattern

  metric_transformation {
    name          = each.key
    namespace     = local.namespace
    value         = each.value.value
    unit          = each.value.unit
    default_value = 0
  }
}

# The pool gauge: the consumer logs `pool_stats` with the counts by status after each sync
# (and periodically); its `available` field becomes the PoolAvailable metric.
resource "aws_cloudwatch_log_metric_filter" "pool_available" {
  name           = "${var.stem}-PoolAvailable"
  log_group_name = aws_cloudwatch_log_group.this["consumer"].name
  pattern        = "{ $.event = \"pool_stats\" }"

  metric_transformation {
    name      = "PoolAvailable"
    namespace = local.namespace
    value     = "$.available"
    unit      = "Count"
  }
}

# v2: the same gauge's `quarantined` field (sandboxes out of service until an operator acts).
resource "aws_cloudwatch_log_metric_filter" "pool_quarantined" {
  name           = "${var.stem}-PoolQuarantined"
  log_group_name = aws_cloudwatch_log_group.this["consumer"].name
  pattern        = "{ $.event = \"pool_stats\" }"

  metric_transformation {
    name      = "PoolQuarantined"
    namespace = local.namespace
    value     = "$.quarantined"
    unit      = "Count"
  }
}

resource "aws_cloudwatch_log_metric_filter" "api_5xx" {
  name           = "${var.stem}-Api5xx"
  log_group_name = aws_cloudwatch_log_group.this["access"].name
  pattern        = "{ $.status >= 500 }"

  metric_transformation {
    name          = "Api5xx"
    namespace     = local.namespace
    value         = "1"
    unit          = "Count"
    default_value = 0
  }
}

locals {
  queries = {
    "all-errors" = {
      groups = ["consumer", "authorizer"]
      query  = <<-EOT
        fields @timestamp, level, event, request_id, action, outcome, track_id, sandbox_id, message_group, receive_count
        | filter level in ["error", "critical"]
        | sort @timestamp desc
        | limit 100
      EOT
    }
    "allocation-failures" = {
      groups = ["consumer"]
      query  = <<-EOT
        fields @timestamp, event, outcome, latency_ms, track_id, request_id
        | filter action = "allocate" and outcome != "succeeded"
        | sort @timestamp desc
        | limit 100
      EOT
    }
    "slow-messages" = {
      groups = ["consumer"]
      query  = <<-EOT
        fields @timestamp, action, latency_ms, outcome, request_id, track_id
        | filter latency_ms > 500
        | sort latency_ms desc
        | limit 50
      EOT
    }
    "jobs" = {
      groups = ["consumer"]
      query  = <<-EOT
        fields @timestamp, event, action, outcome, latency_ms, request_id
        | filter action in ["sync", "cleanup", "expire", "delete_stale", "delete_sandbox"]
        | sort @timestamp desc
        | limit 100
      EOT
    }
    "rate-limit-hits" = {
      groups = ["access"]
      query  = <<-EOT
        fields @timestamp, request_id, role, path, source_ip
        | filter status = 429
        | sort @timestamp desc
        | limit 100
      EOT
    }
    "csp-calls" = {
      groups = ["consumer"]
      query  = <<-EOT
        fields @timestamp, level, event, outcome, latency_ms, sandbox_id
        | filter event like /^csp_/
        | sort @timestamp desc
        | limit 100
      EOT
    }
    "redeliveries-by-group" = {
      groups = ["consumer"]
      query  = <<-EOT
        fields @timestamp, message_group, receive_count, action, request_id
        | filter receive_count > 1
        | stats count(*) as redeliveries, max(receive_count) as worst by message_group, action
        | sort redeliveries desc
        | limit 50
      EOT
    }
    "latency-by-action" = {
      groups = ["consumer"]
      query  = <<-EOT
        fields action, latency_ms
        | filter ispresent(latency_ms)
        | stats count(*) as messages, pct(latency_ms, 50) as p50_ms, pct(latency_ms, 99) as p99_ms by action
      EOT
    }
  }
}

resource "aws_cloudwatch_query_definition" "this" {
  for_each = local.queries

  name            = "${var.stem}/${each.key}"
  log_group_names = [for g in each.value.groups : aws_cloudwatch_log_group.this[g].name]
  query_string    = each.value.query
}

# v2 drain guard: new leases per tenant (dimension Tenant, from the consumer's log line).
# A filter with dimensions takes no default value: a quiet tenant has no data, not zeros.
resource "aws_cloudwatch_log_metric_filter" "tenant_allocations" {
  name           = "${var.stem}-TenantAllocations"
  log_group_name = aws_cloudwatch_log_group.this["consumer"].name
  pattern        = "{ $.event = \"sandbox_allocated\" && $.tenant = \"*\" }"

  metric_transformation {
    name       = "TenantAllocations"
    namespace  = local.namespace
    value      = "1"
    unit       = "Count"
    dimensions = { Tenant = "$.tenant" }
  }
}
