locals {
  region = data.aws_region.current.name

  dashboard_widgets = [
    {
      type = "metric", x = 0, y = 0, width = 12, height = 6
      properties = {
        title  = "Queue depth (visible)"
        region = local.region
        stat   = "Maximum"
        period = 60
        metrics = concat(
          [for k, q in var.queue_names : ["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", q, { label = k }]],
          [for k, q in var.dlq_names : ["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", q, { label = "${k} DLQ" }]],
        )
      }
    },
    {
      type = "metric", x = 12, y = 0, width = 12, height = 6
      properties = {
        title       = "Age of oldest message (s)"
        region      = local.region
        stat        = "Maximum"
        period      = 60
        annotations = { horizontal = [{ label = "SLO", value = var.queue_age_slo_s }] }
        metrics     = [for k, q in var.queue_names : ["AWS/SQS", "ApproximateAgeOfOldestMessage", "QueueName", q, { label = k }]]
      }
    },
    {
      type = "metric", x = 0, y = 6, width = 12, height = 6
      properties = {
        title  = "Consumers and backlog per task"
        region = local.region
        period = 60
        metrics = [
          ["ECS/ContainerInsights", "RunningTaskCount", "ClusterName", var.cluster_name, "ServiceName", var.service_name, { id = "tasks", stat = "Average", label = "running tasks" }],
          ["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", var.queue_names["requests"], { id = "requests", stat = "Sum", visible = false }],
          ["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", var.queue_names["jobs"], { id = "jobs", stat = "Sum", visible = false }],
          [{ expression = "(FILL(requests, 0) + FILL(jobs, 0)) / IF(tasks > 0, tasks, 1)", label = "backlog per task", id = "backlog" }],
        ]
      }
    },
    {
      type = "metric", x = 12, y = 6, width = 12, height = 6
      properties = {
        title       = "Pool available"
        region      = local.region
        stat        = "Minimum"
        period      = 300
        annotations = { horizontal = [{ label = "alarm", value = var.pool_available_min }] }
        metrics     = [[local.namespace, "PoolAvailable", { label = "available" }]]
      }
    },
    {
      type = "metric", x = 0, y = 12, width = 12, height = 6
      properties = {
        title  = "Consumer outcomes"
        region = local.region
        stat   = "Sum"
        period = 300
        metrics = [
          for m in ["ConsumerErrors", "NoSandboxesAvailable", "JobFailures", "CspErrors", "SlowMessages", "Redeliveries"] :
          [local.namespace, m, { label = m }]
        ]
      }
    },
    {
      type = "metric", x = 12, y = 12, width = 12, height = 6
      properties = {
        title  = "API: requests, 4xx, 5xx, latency"
        region = local.region
        period = 60
        metrics = [
          ["AWS/ApiGateway", "Count", "ApiName", var.api_name, "Stage", var.api_stage, { stat = "Sum", label = "requests" }],
          ["AWS/ApiGateway", "4XXError", "ApiName", var.api_name, "Stage", var.api_stage, { stat = "Sum", label = "4xx" }],
          ["AWS/ApiGateway", "5XXError", "ApiName", var.api_name, "Stage", var.api_stage, { stat = "Sum", label = "5xx" }],
          ["AWS/ApiGateway", "Latency", "ApiName", var.api_name, "Stage", var.api_stage, { stat = "p99", label = "p99 latency (ms)", yAxis = "right" }],
        ]
      }
    },
    {
      type = "log", x = 0, y = 18, width = 24, height = 6
      properties = {
        title  = "Recent errors"
        region = local.region
        view   = "table"
        query  = "SOURCE '${aws_cloudwatch_log_group.this["consumer"].name}' | ${trimspace(replace(local.queries["all-errors"].query, "\n", " "))}"
      }
    },
  ]
}

data "aws_region" "current" {}

resource "aws_cloudwatch_dashboard" "this" {
  dashboard_name = var.stem
  dashboard_body = jsonencode({ widgets = local.dashboard_widgets })
}
