# EventBridge Scheduler publishes the periodic job events (CONTRACT.md "Queues": group id =
# job type, dedup id = <type>:<time bucket>) straight onto the job queue. This replaces the
# local `sandbox-broker scheduler` process on AWS.
#
# SQS's templated Scheduler target takes no deduplication id (and demands content-based
# deduplication on a FIFO queue, which the queues do not use), so the schedules call the
# SendMessage API as a universal target instead. The time bucket is the schedule's
# <aws.scheduler.scheduled-time> context attribute, which Scheduler fills in when it
# invokes: every retry of one invocation carries the same scheduled time and therefore the
# same MessageDeduplicationId, and SQS drops the repeats (5-minute deduplication window;
# retries are cut off at 5 minutes below to stay inside it).

locals {
  # job type => interval in seconds (defaults equal schemas.settings.SchedulerSettings)
  jobs = {
    sync         = var.sync_interval_s
    cleanup      = var.cleanup_interval_s
    expire       = var.expire_interval_s
    delete_stale = var.delete_stale_interval_s
  }
}

resource "aws_scheduler_schedule_group" "jobs" {
  name = "${var.stem}-jobs"
}

resource "aws_scheduler_schedule" "job" {
  #checkov:skip=CKV_AWS_297:the schedule input is a job name and a queue URL, nothing secret; an AWS-owned key encrypts it
  for_each = local.jobs

  name        = "${var.stem}-${replace(each.key, "_", "-")}"
  group_name  = aws_scheduler_schedule_group.jobs.name
  description = "Publish a ${each.key} job event every ${each.value} s"
  state       = var.enabled ? "ENABLED" : "DISABLED"

  schedule_expression = "rate(${ceil(each.value / 60)} minutes)"

  flexible_time_window {
    mode = "OFF"
  }

  target {
    arn      = "arn:${data.aws_partition.current.partition}:scheduler:::aws-sdk:sqs:sendMessage"
    role_arn = var.role_arn
    # A raw JSON template rather than jsonencode(): jsonencode writes "<" and ">" as
    # \u003c and \u003e, and Scheduler would no longer see its context attributes.
    input = templatefile("${path.module}/send_job.json.tftpl", {
      queue_url = var.jobs_queue_url
      job_type  = each.key
    })

    retry_policy {
      maximum_event_age_in_seconds = 300
      maximum_retry_attempts       = 10
    }
  }
}

data "aws_partition" "current" {}
