# Both FIFO queues and their dead-letter queues, exactly as `sandbox-broker infra provision`
# creates them locally (infra/provision.py queue_specs; the drift test compares the two).

locals {
  # source queue key => its name and the name of its dead-letter queue
  queues = {
    requests = { name = var.requests_queue_name, dlq = var.requests_dlq_name }
    jobs     = { name = var.jobs_queue_name, dlq = var.jobs_dlq_name }
  }
}

resource "aws_sqs_queue" "dlq" {
  #checkov:skip=CKV2_AWS_73:SQS-managed SSE, as local provisioning uses; a CMK would need key grants for API Gateway, Scheduler and ECS roles for no gain in one account
  for_each = local.queues

  name                        = each.value.dlq
  fifo_queue                  = true
  content_based_deduplication = false
  # High-throughput FIFO: deduplication and throughput are per message group (track).
  deduplication_scope        = "messageGroup"
  fifo_throughput_limit      = "perMessageGroupId"
  visibility_timeout_seconds = var.visibility_timeout_s
  message_retention_seconds  = var.message_retention_s
  receive_wait_time_seconds  = 20
  sqs_managed_sse_enabled    = true
}

resource "aws_sqs_queue" "source" {
  #checkov:skip=CKV2_AWS_73:SQS-managed SSE, as local provisioning uses; a CMK would need key grants for API Gateway, Scheduler and ECS roles for no gain in one account
  for_each = local.queues

  name                        = each.value.name
  fifo_queue                  = true
  content_based_deduplication = false
  deduplication_scope         = "messageGroup"
  fifo_throughput_limit       = "perMessageGroupId"
  # The consumer's heartbeat extends visibility while work runs; the timeout (20 s by
  # default) bounds how long a crashed consumer's messages wait.
  visibility_timeout_seconds = var.visibility_timeout_s
  message_retention_seconds  = var.message_retention_s
  receive_wait_time_seconds  = 20
  sqs_managed_sse_enabled    = true

  redrive_policy = jsonencode({
    deadLetterTargetArn = aws_sqs_queue.dlq[each.key].arn
    maxReceiveCount     = var.max_receive_count
  })
}

# Only the paired source queue may dead-letter into each DLQ (and be the replay target).
resource "aws_sqs_queue_redrive_allow_policy" "dlq" {
  for_each = local.queues

  queue_url = aws_sqs_queue.dlq[each.key].id
  redrive_allow_policy = jsonencode({
    redrivePermission = "byQueue"
    sourceQueueArns   = [aws_sqs_queue.source[each.key].arn]
  })
}
