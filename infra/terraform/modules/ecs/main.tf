# The consumers on ECS Fargate: stateless tasks scaled on backlog per task. On AWS the
# gateway is API Gateway and the scheduler is EventBridge Scheduler, so this is the only
# service.

data "aws_region" "current" {}

locals {
  # The consumer's settings (schemas.settings.ConsumerSettings, env prefix BROKER_).
  environment = merge(
    {
      BROKER_NAME_PREFIX          = var.name_prefix
      BROKER_AWS_REGION           = data.aws_region.current.name
      BROKER_LOG_FORMAT           = "json"
      BROKER_HTTP_PORT            = tostring(var.http_port)
      BROKER_MAX_WORKERS          = tostring(var.max_workers)
      BROKER_SHUTDOWN_TIMEOUT_S   = tostring(var.shutdown_timeout_s)
      BROKER_VISIBILITY_TIMEOUT_S = tostring(var.visibility_timeout_s)
      BROKER_MAX_RECEIVE_COUNT    = tostring(var.max_receive_count)
      BROKER_REPLY_TTL_S          = tostring(var.reply_ttl_s)
      BROKER_CSP_BASE_URL         = var.csp_base_url
    },
    var.extra_environment,
  )

  # ECS sends SIGTERM, waits stopTimeout, then SIGKILL. The consumer drains for at most
  # BROKER_SHUTDOWN_TIMEOUT_S, then releases unstarted messages and flushes acks, so give
  # it twice that (at least 60 s; Fargate allows 120 s at most).
  stop_timeout = min(120, max(60, ceil(var.shutdown_timeout_s * 2)))

  container = {
    name      = "consumer"
    image     = var.image
    essential = true
    command   = ["sandbox-broker", "consumer"]
    environment = [
      for name in sort(keys(local.environment)) : { name = name, value = local.environment[name] }
    ]
    # Injected by the ECS agent from Secrets Manager; never in the task definition.
    secrets = [
      { name = "BROKER_CSP_TOKEN", valueFrom = var.csp_token_secret_arn },
    ]
    # /readyz answers 503 until SQS and DynamoDB answer: an unready task is replaced.
    # The image has Python, not curl.
    healthCheck = {
      command = [
        "CMD", "python", "-c",
        "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ.get('BROKER_HTTP_PORT', '8001') + '/readyz', timeout=3)",
      ]
      interval    = 15
      timeout     = 5
      retries     = 3
      startPeriod = 30
    }
    stopTimeout            = local.stop_timeout
    readonlyRootFilesystem = true
    mountPoints = [
      { sourceVolume = "tmp", containerPath = "/tmp", readOnly = false },
    ]
    linuxParameters = { initProcessEnabled = true }
    logConfiguration = {
      logDriver = "awslogs"
      options = {
        awslogs-group         = var.log_group_name
        awslogs-region        = data.aws_region.current.name
        awslogs-stream-prefix = "consumer"
      }
    }
  }
}

resource "aws_ecs_cluster" "this" {
  name = var.stem

  # RunningTaskCount (ECS/ContainerInsights) is the divisor of backlog per task.
  setting {
    name  = "containerInsights"
    value = "enabled"
  }
}

resource "aws_ecs_task_definition" "consumer" {
  family                   = "${var.stem}-consumer"
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = var.cpu
  memory                   = var.memory
  task_role_arn            = var.task_role_arn
  execution_role_arn       = var.execution_role_arn
  container_definitions    = jsonencode([local.container])

  runtime_platform {
    operating_system_family = "LINUX"
    cpu_architecture        = var.cpu_architecture
  }

  volume {
    name = "tmp"
  }
}

resource "aws_security_group" "consumer" {
  name        = "${var.stem}-consumer"
  description = "Sandbox Broker consumers: no inbound; HTTPS out to AWS APIs and the CSP"
  vpc_id      = var.vpc_id

  egress {
    description = "HTTPS to SQS, DynamoDB, Secrets Manager, CloudWatch Logs, ECR and the CSP"
    from_port   = 443
    to_port     = 443
    protocol    = "tcp"
    cidr_blocks = ["0.0.0.0/0"]
  }
}

resource "aws_ecs_service" "consumer" {
  name             = "${var.stem}-consumer"
  cluster          = aws_ecs_cluster.this.id
  task_definition  = aws_ecs_task_definition.consumer.arn
  desired_count    = var.min_tasks
  launch_type      = "FARGATE"
  platform_version = "LATEST"
  propagate_tags   = "SERVICE"

  # Roll forward one task at a time and roll back a deployment that never gets healthy.
  deployment_minimum_healthy_percent = 100
  deployment_maximum_percent         = 200
  deployment_circuit_breaker {
    enable   = true
    rollback = true
  }

  network_configuration {
    subnets          = var.subnet_ids
    security_groups  = [aws_security_group.consumer.id]
    assign_public_ip = var.assign_public_ip
  }

  lifecycle {
    # Autoscaling owns the task count once the service exists.
    ignore_changes = [desired_count]
  }
}

# ---------------------------------------------------------------------------------------
# Autoscaling on backlog per task: visible messages on both queues / running tasks.
# ---------------------------------------------------------------------------------------

resource "aws_appautoscaling_target" "consumer" {
  service_namespace  = "ecs"
  resource_id        = "service/${aws_ecs_cluster.this.name}/${aws_ecs_service.consumer.name}"
  scalable_dimension = "ecs:service:DesiredCount"
  min_capacity       = var.min_tasks
  max_capacity       = var.max_tasks
}

resource "aws_appautoscaling_policy" "backlog_per_task" {
  name               = "${var.stem}-backlog-per-task"
  policy_type        = "TargetTrackingScaling"
  service_namespace  = aws_appautoscaling_target.consumer.service_namespace
  resource_id        = aws_appautoscaling_target.consumer.resource_id
  scalable_dimension = aws_appautoscaling_target.consumer.scalable_dimension

  target_tracking_scaling_policy_configuration {
    # Acceptable backlog per task = latency target / time per message (per task).
    target_value       = var.backlog_per_task_target
    scale_out_cooldown = 60
    scale_in_cooldown  = 300

    customized_metric_specification {
      metrics {
        id          = "requests"
        label       = "visible on the request queue"
        return_data = false
        metric_stat {
          stat = "Sum"
          metric {
            namespace   = "AWS/SQS"
            metric_name = "ApproximateNumberOfMessagesVisible"
            dimensions {
              name  = "QueueName"
              value = var.requests_queue_name
            }
          }
        }
      }

      metrics {
        id          = "jobs"
        label       = "visible on the job queue"
        return_data = false
        metric_stat {
          stat = "Sum"
          metric {
            namespace   = "AWS/SQS"
            metric_name = "ApproximateNumberOfMessagesVisible"
            dimensions {
              name  = "QueueName"
              value = var.jobs_queue_name
            }
          }
        }
      }

      metrics {
        id          = "tasks"
        label       = "running consumer tasks"
        return_data = false
        metric_stat {
          stat = "Average"
          metric {
            namespace   = "ECS/ContainerInsights"
            metric_name = "RunningTaskCount"
            dimensions {
              name  = "ClusterName"
              value = aws_ecs_cluster.this.name
            }
            dimensions {
              name  = "ServiceName"
              value = aws_ecs_service.consumer.name
            }
          }
        }
      }

      metrics {
        id          = "backlog_per_task"
        label       = "backlog per task"
        expression  = "(requests + jobs) / tasks"
        return_data = true
      }
    }
  }
}
