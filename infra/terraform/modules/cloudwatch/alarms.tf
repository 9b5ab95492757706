# Alarms to one SNS topic. Missing data is decided per alarm: a queue with nothing in it
# stops reporting some metrics, which is good news (notBreaching); a silent pool gauge or
# no running consumer is bad news (breaching).

resource "aws_sns_topic" "alarms" {
  #checkov:skip=CKV_AWS_26:CloudWatch cannot publish to a topic encrypted with the AWS-managed aws/sns key, and alarm notifications carry no secrets
  name = "${var.stem}-alarms"
}

resource "aws_sns_topic_subscription" "email" {
  for_each = toset(var.alarm_emails)

  topic_arn = aws_sns_topic.alarms.arn
  protocol  = "email"
  endpoint  = each.value
}

locals {
  alarm_actions = [aws_sns_topic.alarms.arn]
}

resource "aws_cloudwatch_metric_alarm" "dlq_not_empty" {
  for_each = var.dlq_names

  alarm_name          = "${var.stem}-${each.key}-dlq-not-empty"
  alarm_description   = "Messages in ${each.value}: they exhausted their retries. Inspect with `sandbox-broker dlq list`, replay after the fix."
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateNumberOfMessagesVisible"
  dimensions          = { QueueName = each.value }
  statistic           = "Maximum"
  period              = 60
  evaluation_periods  = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = 0
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
}

resource "aws_cloudwatch_metric_alarm" "oldest_message_age" {
  for_each = var.queue_names

  alarm_name          = "${var.stem}-${each.key}-oldest-message-age"
  alarm_description   = "The oldest message on ${each.value} waited longer than the ${var.queue_age_slo_s} s objective: consumers are down, stuck or too few."
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateAgeOfOldestMessage"
  dimensions          = { QueueName = each.value }
  statistic           = "Maximum"
  period              = 60
  evaluation_periods  = 3
  datapoints_to_alarm = 3
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.queue_age_slo_s
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
}

resource "aws_cloudwatch_metric_alarm" "backlog_per_task" {
  alarm_name          = "${var.stem}-backlog-per-task"
  alarm_description   = "Visible messages per running consumer stayed above ${var.backlog_per_task_alarm}: autoscaling is at its maximum or cannot keep up."
  evaluation_periods  = 5
  datapoints_to_alarm = 5
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.backlog_per_task_alarm
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions

  metric_query {
    id          = "backlog_per_task"
    expression  = "(FILL(requests, 0) + FILL(jobs, 0)) / IF(tasks > 0, tasks, 1)"
    label       = "backlog per task"
    return_data = true
  }

  metric_query {
    id = "requests"
    metric {
      namespace   = "AWS/SQS"
      metric_name = "ApproximateNumberOfMessagesVisible"
      dimensions  = { QueueName = var.queue_names["requests"] }
      stat        = "Sum"
      period      = 60
    }
  }

  metric_query {
    id = "jobs"
    metric {
      namespace   = "AWS/SQS"
      metric_name = "ApproximateNumberOfMessagesVisible"
      dimensions  = { QueueName = var.queue_names["jobs"] }
      stat        = "Sum"
      period      = 60
    }
  }

  metric_query {
    id = "tasks"
    metric {
      namespace   = "ECS/ContainerInsights"
      metric_name = "RunningTaskCount"
      dimensions  = { ClusterName = var.cluster_name, ServiceName = var.service_name }
      stat        = "Average"
      period      = 60
    }
  }
}

resource "aws_cloudwatch_metric_alarm" "consumers_running" {
  # The old system watched CPUUtilization <= 0 for a stopped worker, which never fires: a
  # stopped service reports no CPU at all. Count running tasks and treat silence as down.
  alarm_name          = "${var.stem}-no-consumer-running"
  alarm_description   = "No consumer task is running: requests are queueing unanswered."
  namespace           = "ECS/ContainerInsights"
  metric_name         = "RunningTaskCount"
  dimensions          = { ClusterName = var.cluster_name, ServiceName = var.service_name }
  statistic           = "Maximum"
  period              = 60
  evaluation_periods  = 3
  datapoints_to_alarm = 3
  comparison_operator = "LessThanThreshold"
  threshold           = 1
  treat_missing_data  = "breaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
}

resource "aws_cloudwatch_metric_alarm" "pool_available_low" {
  alarm_name          = "${var.stem}-pool-available-low"
  alarm_description   = "Fewer than ${var.pool_available_min} sandboxes available: allocations will soon answer NO_SANDBOXES_AVAILABLE. Check the CSP and the sync job."
  namespace           = local.namespace
  metric_name         = "PoolAvailable"
  statistic           = "Minimum"
  # pool_stats is logged after every sync (10 min): 15-minute periods always hold one.
  period              = 900
  evaluation_periods  = 1
  comparison_operator = "LessThanThreshold"
  threshold           = var.pool_available_min
  # No gauge for 15 minutes means sync is not running, so the pool is not being refilled.
  treat_missing_data = "breaching"
  alarm_actions      = local.alarm_actions
  ok_actions         = local.alarm_actions
}

# v2: any quarantined sandbox needs an operator (`sandbox-broker status` lists them and why).
resource "aws_cloudwatch_metric_alarm" "pool_quarantined" {
  alarm_name          = "${var.stem}-pool-quarantined"
  alarm_description   = "Sandboxes are quarantined (deletion failed repeatedly, or an operator took them out of service): `sandbox-broker status` shows why; `pool retry ID` once fixed."
  namespace           = local.namespace
  metric_name         = "PoolQuarantined"
  statistic           = "Maximum"
  period              = 900
  evaluation_periods  = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = 0
  # A silent gauge already alarms as pool-available-low.
  treat_missing_data = "notBreaching"
  alarm_actions      = local.alarm_actions
  ok_actions         = local.alarm_actions
}

resource "aws_cloudwatch_metric_alarm" "consumer_error_rate" {
  alarm_name          = "${var.stem}-consumer-error-rate"
  alarm_description   = "More than ${var.consumer_error_rate_pct}% of received messages logged an error."
  evaluation_periods  = 3
  datapoints_to_alarm = 2
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.consumer_error_rate_pct
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions

  metric_query {
    id          = "error_rate"
    expression  = "IF(received > 0, 100 * FILL(errors, 0) / received, 0)"
    label       = "consumer errors per 100 received messages"
    return_data = true
  }

  metric_query {
    id = "errors"
    metric {
      namespace   = local.namespace
      metric_name = "ConsumerErrors"
      stat        = "Sum"
      period      = 300
    }
  }

  metric_query {
    id          = "received"
    expression  = "FILL(received_requests, 0) + FILL(received_jobs, 0)"
    label       = "messages received"
    return_data = false
  }

  metric_query {
    id = "received_requests"
    metric {
      namespace   = "AWS/SQS"
      metric_name = "NumberOfMessagesReceived"
      dimensions  = { QueueName = var.queue_names["requests"] }
      stat        = "Sum"
      period      = 300
    }
  }

  metric_query {
    id = "received_jobs"
    metric {
      namespace   = "AWS/SQS"
      metric_name = "NumberOfMessagesReceived"
      dimensions  = { QueueName = var.queue_names["jobs"] }
      stat        = "Sum"
      period      = 300
    }
  }
}

resource "aws_cloudwatch_metric_alarm" "api_5xx_rate" {
  alarm_name        = "${var.stem}-api-5xx-rate"
  alarm_description = "More than ${var.api_5xx_rate * 100}% of API calls answered 5xx (queue, table or authorizer unavailable)."
  namespace         = "AWS/ApiGateway"
  metric_name       = "5XXError"
  dimensions        = { ApiName = var.api_name, Stage = var.api_stage }
  # 5XXError is 0 or 1 per request: its average is the 5xx rate.
  statistic           = "Average"
  period              = 300
  evaluation_periods  = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.api_5xx_rate
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
}

# Both Lambdas sit on request paths: an error (a crash or a timeout, which API Gateway
# answers 5xx) or a throttle (no concurrency left: 429/500 for a caller) is worth a look.
locals {
  lambda_functions = {
    authorizer  = var.authorizer_function_name
    read_lambda = var.read_lambda_function_name
  }
  lambda_alarms = {
    errors = {
      metric      = "Errors"
      description = "invocations failed (crashed or timed out): API Gateway answered them 5xx"
    }
    throttles = {
      metric      = "Throttles"
      description = "invocations were throttled (no concurrency left): raise the account's Lambda concurrency or reserve some"
    }
  }
}

resource "aws_cloudwatch_metric_alarm" "lambda" {
  for_each = {
    for pair in setproduct(keys(local.lambda_functions), keys(local.lambda_alarms)) :
    "${pair[0]}-${pair[1]}" => { function = local.lambda_functions[pair[0]], alarm = local.lambda_alarms[pair[1]] }
  }

  alarm_name          = "${var.stem}-${each.key}"
  alarm_description   = "${each.value.function}: ${each.value.alarm.description}."
  namespace           = "AWS/Lambda"
  metric_name         = each.value.alarm.metric
  dimensions          = { FunctionName = each.value.function }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = 0
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
}

# ---------------------------------------------------------------------------------------
# v2 drain guards: one credential draining the pool shows as allocations far above their
# normal rate and as `available` falling fast (CONTRACT.md "Tenants"; quotas bound it).
# ---------------------------------------------------------------------------------------

resource "aws_cloudwatch_metric_alarm" "allocation_surge" {
  alarm_name          = "${var.stem}-allocation-surge"
  alarm_description   = "New leases per minute far above their usual band (anomaly detection): a drain? Check `sandbox-broker status` (per-tenant usage) and the tenants' quotas."
  comparison_operator = "GreaterThanUpperThreshold"
  evaluation_periods  = 3
  threshold_metric_id = "band"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions

  metric_query {
    id          = "band"
    expression  = "ANOMALY_DETECTION_BAND(m1, ${var.allocation_surge_band})"
    label       = "usual allocations per minute"
    return_data = true
  }

  metric_query {
    id          = "m1"
    return_data = true
    metric {
      namespace   = local.namespace
      metric_name = "Allocations"
      period      = 60
      stat        = "Sum"
    }
  }
}

resource "aws_cloudwatch_metric_alarm" "tenant_allocation_surge" {
  alarm_name          = "${var.stem}-tenant-allocation-surge"
  alarm_description   = "One tenant took more than ${var.tenant_allocations_per_min_alarm} sandboxes a minute: far above a lab start's rate. Check its tokens (`tenants show`), revoke or set --max-active."
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.tenant_allocations_per_min_alarm
  evaluation_periods  = 2
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions

  metric_query {
    id          = "busiest"
    expression  = "MAX(SEARCH('{${local.namespace},Tenant} MetricName=\"TenantAllocations\"', 'Sum', 60))"
    label       = "busiest tenant's allocations per minute"
    return_data = true
  }
}

resource "aws_cloudwatch_metric_alarm" "available_falling_fast" {
  alarm_name          = "${var.stem}-available-falling-fast"
  alarm_description   = "Available sandboxes fell by more than ${var.available_drop_alarm} between two syncs: a drain outpacing the pool. Check per-tenant usage in `sandbox-broker status`."
  comparison_operator = "LessThanThreshold"
  threshold           = -var.available_drop_alarm
  evaluation_periods  = 1
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions

  metric_query {
    id          = "drop"
    expression  = "DIFF(available)"
    label       = "change of available between syncs"
    return_data = true
  }

  metric_query {
    id = "available"
    metric {
      namespace   = local.namespace
      metric_name = "PoolAvailable"
      # pool_stats is logged after every sync (10 min): one value per 15-minute period.
      period = 900
      stat   = "Minimum"
    }
  }
}
