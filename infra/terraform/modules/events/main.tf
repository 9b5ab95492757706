# v2 lease history and events on AWS (CONTRACT.md "Lease lifecycle", DESIGN.md "History and
# events"): the pool table's DynamoDB Stream → the stream Lambda (infra/events_lambda, the
# local `events` reader's own code: same history, same event ids) → an EventBridge bus,
# source "sandbox-broker". Batches the Lambda cannot take are retried (bisected) and then
# described on a failure-destination queue (the DLQ), which alarms; so does the Lambda's
# errors and its iterator age (history and events falling behind).
#
# Packaged with the read Lambda's build (`python3 dev.py lambda`: function/ and the layer).

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}

locals {
  build = "${path.module}/../../../../build/read-lambda"
}

resource "aws_cloudwatch_event_bus" "events" {
  #checkov:skip=CKV_AWS_373:events carry sandbox and track ids, no secrets; the AWS-owned key encrypts them at rest
  name = "${var.stem}-events"
}

resource "aws_sqs_queue" "dlq" {
  name                      = "${var.stem}-events-dlq"
  message_retention_seconds = 1209600
  sqs_managed_sse_enabled   = true
}

data "archive_file" "function" {
  type        = "zip"
  source_dir  = "${local.build}/function"
  output_path = "${local.build}/events-function.zip"
}

resource "aws_cloudwatch_log_group" "events" {
  #checkov:skip=CKV_AWS_158:operational logs with no secrets or personal data; the default CloudWatch Logs encryption is enough
  #checkov:skip=CKV_AWS_338:operational logs kept log_retention_days, as every log group of this deployment
  name              = "/aws/lambda/${var.function_name}"
  retention_in_days = var.log_retention_days
}

data "aws_iam_policy_document" "trust_lambda" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [data.aws_caller_identity.current.account_id]
    }
  }
}

resource "aws_iam_role" "events" {
  name               = "${var.stem}-events-lambda"
  description        = "Stream Lambda: read the pool table's stream, write lease history, put events, report failed batches"
  assume_role_policy = data.aws_iam_policy_document.trust_lambda.json
}

data "aws_iam_policy_document" "events" {
  statement {
    sid       = "ReadStream"
    actions   = ["dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator", "dynamodb:ListStreams"]
    resources = [var.pool_stream_arn]
  }

  statement {
    sid = "WriteHistory"
    # History items only (HIST#<sandbox_id>): conditional puts and updates.
    actions   = ["dynamodb:PutItem", "dynamodb:UpdateItem"]
    resources = [var.pool_table_arn]
    condition {
      test     = "ForAllValues:StringLike"
      variable = "dynamodb:LeadingKeys"
      values   = ["HIST#*"]
    }
  }

  statement {
    sid       = "PutEvents"
    actions   = ["events:PutEvents"]
    resources = [aws_cloudwatch_event_bus.events.arn]
  }

  statement {
    sid       = "FailedBatches"
    actions   = ["sqs:SendMessage"]
    resources = [aws_sqs_queue.dlq.arn]
  }

  statement {
    sid       = "Logs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.events.arn}:*"]
  }
}

resource "aws_iam_role_policy" "events" {
  name   = "stream-history-events"
  role   = aws_iam_role.events.id
  policy = data.aws_iam_policy_document.events.json
}

resource "aws_lambda_function" "events" {
  #checkov:skip=CKV_AWS_116:invoked by a stream event source mapping, whose on-failure destination is the DLQ (a function DLQ applies to async invocations only)
  #checkov:skip=CKV_AWS_117:calls only DynamoDB's and EventBridge's public endpoints; a VPC would add NAT or endpoints for nothing
  #checkov:skip=CKV_AWS_173:the environment holds names only
  #checkov:skip=CKV_AWS_272:built from this repository and its hashed lock by dev.py; no third-party artefact to sign
  #checkov:skip=CKV_AWS_50:one batch at a time from one stream; Active tracing would need xray:* on "*" in its role
  function_name                  = var.function_name
  description                    = "Sandbox Broker lease history and events from the pool table's stream"
  role                           = aws_iam_role.events.arn
  runtime                        = "python3.12"
  architectures                  = ["x86_64"]
  handler                        = "infra.events_lambda.handler.handler"
  filename                       = data.archive_file.function.output_path
  source_code_hash               = data.archive_file.function.output_base64sha256
  layers                         = [var.layer_arn]
  memory_size                    = 256
  timeout                        = 60
  reserved_concurrent_executions = var.reserved_concurrency

  environment {
    variables = {
      BROKER_NAME_PREFIX     = var.name_prefix
      BROKER_EVENTS_BUS_NAME = aws_cloudwatch_event_bus.events.name
      BROKER_HISTORY_TTL_S   = tostring(var.history_ttl_s)
      BROKER_LOG_FORMAT      = "json"
    }
  }

  logging_config {
    log_format = "Text"
    log_group  = aws_cloudwatch_log_group.events.name
  }

  depends_on = [aws_iam_role_policy.events]
}

resource "aws_lambda_event_source_mapping" "stream" {
  event_source_arn  = var.pool_stream_arn
  function_name     = aws_lambda_function.events.arn
  starting_position = "TRIM_HORIZON"
  batch_size        = 100
  # one shard's records in order; a failing batch is halved until the bad record is alone
  parallelization_factor         = 1
  bisect_batch_on_function_error = true
  maximum_retry_attempts         = 10
  maximum_record_age_in_seconds  = 86400

  # Only sandbox items mean anything (pointers, markers, history, waiters do not).
  filter_criteria {
    filter {
      pattern = jsonencode({ dynamodb = { Keys = { PK = { S = [{ prefix = "SBX#" }] } } } })
    }
  }

  destination_config {
    on_failure {
      destination_arn = aws_sqs_queue.dlq.arn
    }
  }
}

resource "aws_cloudwatch_metric_alarm" "dlq" {
  alarm_name          = "${var.stem}-events-dlq-not-empty"
  alarm_description   = "Stream batches the events Lambda could not deliver after its retries: their history and events are missing. The message names the shard and sequence numbers to replay."
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateNumberOfMessagesVisible"
  dimensions          = { QueueName = aws_sqs_queue.dlq.name }
  statistic           = "Maximum"
  period              = 60
  evaluation_periods  = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = 0
  treat_missing_data  = "notBreaching"
  alarm_actions       = [var.alarm_topic_arn]
  ok_actions          = [var.alarm_topic_arn]
}

resource "aws_cloudwatch_metric_alarm" "errors" {
  alarm_name          = "${var.stem}-events-lambda-errors"
  alarm_description   = "The events Lambda failed batches (they are retried, then dead-lettered)."
  namespace           = "AWS/Lambda"
  metric_name         = "Errors"
  dimensions          = { FunctionName = aws_lambda_function.events.function_name }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = 0
  treat_missing_data  = "notBreaching"
  alarm_actions       = [var.alarm_topic_arn]
  ok_actions          = [var.alarm_topic_arn]
}

resource "aws_cloudwatch_metric_alarm" "iterator_age" {
  alarm_name          = "${var.stem}-events-behind"
  alarm_description   = "Lease history and events lag the pool by more than ${var.max_iterator_age_s} s."
  namespace           = "AWS/Lambda"
  metric_name         = "IteratorAge"
  dimensions          = { FunctionName = aws_lambda_function.events.function_name }
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.max_iterator_age_s * 1000
  treat_missing_data  = "notBreaching"
  alarm_actions       = [var.alarm_topic_arn]
  ok_actions          = [var.alarm_topic_arn]
}
