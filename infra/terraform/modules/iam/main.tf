# One role per principal, each allowed only the actions it calls on the resources it uses.
# Trust policies pin the calling service to this account (confused-deputy protection).

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}

locals {
  account_id = data.aws_caller_identity.current.account_id
}

# ---------------------------------------------------------------------------------------
# Trust policies: one per service, by key
# ---------------------------------------------------------------------------------------

locals {
  # Service -> whether its trust pins aws:SourceAccount to this account (the Lambda
  # roles' trust names the service only).
  trusted_services = {
    "ecs-tasks.amazonaws.com"  = true
    "apigateway.amazonaws.com" = true
    "scheduler.amazonaws.com"  = true
    "lambda.amazonaws.com"     = false
  }
}

data "aws_iam_policy_document" "trust" {
  for_each = local.trusted_services

  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = [each.key]
    }
    dynamic "condition" {
      for_each = each.value ? [local.account_id] : []
      content {
        test     = "StringEquals"
        variable = "aws:SourceAccount"
        values   = [condition.value]
      }
    }
  }
}

# ---------------------------------------------------------------------------------------
# Consumer task (the application inside the container)
# ---------------------------------------------------------------------------------------

resource "aws_iam_role" "consumer_task" {
  name               = "${var.stem}-consumer-task"
  description        = "Sandbox Broker consumer: its queues and DLQs, the pool and reply tables"
  assume_role_policy = data.aws_iam_policy_document.trust["ecs-tasks.amazonaws.com"].json
}

data "aws_iam_policy_document" "consumer_task" {
  statement {
    sid = "Queues"
    # Batch calls (DeleteMessageBatch, SendMessageBatch, ChangeMessageVisibilityBatch) are
    # authorised by these same actions. SendMessage: cleanup fans out to the job queue.
    actions = [
      "sqs:ChangeMessageVisibility",
      "sqs:DeleteMessage",
      "sqs:GetQueueAttributes",
      "sqs:GetQueueUrl",
      "sqs:ReceiveMessage",
      "sqs:SendMessage",
    ]
    resources = values(var.queue_arns)
  }

  statement {
    sid = "DeadLetterQueues"
    # No DeleteMessage: nothing in the consumer consumes a dead letter (operators replay
    # or purge them with their own credentials). Receive and ChangeMessageVisibility serve
    # the DLQ sweep, which reads dead letters without consuming them to answer requests
    # that no handler finished DEAD_LETTERED; SendMessage the `dlq` reject policy, which
    # moves a message to its DLQ itself.
    actions = [
      "sqs:ChangeMessageVisibility",
      "sqs:GetQueueAttributes",
      "sqs:GetQueueUrl",
      "sqs:ReceiveMessage",
      "sqs:SendMessage",
    ]
    resources = values(var.dlq_arns)
  }

  statement {
    sid = "Tables"
    # TransactWriteItems is authorised per item by Put/Update/Delete/ConditionCheck.
    # No Scan: nothing on a request path or in a periodic job scans the pool.
    actions = [
      "dynamodb:ConditionCheckItem",
      "dynamodb:DeleteItem",
      "dynamodb:DescribeTable",
      "dynamodb:GetItem",
      "dynamodb:PutItem",
      "dynamodb:Query",
      "dynamodb:UpdateItem",
    ]
    resources = [
      var.pool_table_arn,
      "${var.pool_table_arn}/index/*",
      var.replies_table_arn,
    ]
  }

  statement {
    sid = "TenantsReadOnly"
    # v2: a tenant's quota and prefixes (GetItem on its config); only the CLI writes it.
    actions   = ["dynamodb:GetItem"]
    resources = [var.tenants_table_arn]
  }
}

resource "aws_iam_role_policy" "consumer_task" {
  name   = "queues-and-tables"
  role   = aws_iam_role.consumer_task.id
  policy = data.aws_iam_policy_document.consumer_task.json
}

# ---------------------------------------------------------------------------------------
# Consumer task execution (ECS agent: image pull, log stream, CSP token injection)
# ---------------------------------------------------------------------------------------

resource "aws_iam_role" "consumer_execution" {
  name               = "${var.stem}-consumer-execution"
  description        = "ECS agent for the consumer: pull the image, write logs, inject the CSP token"
  assume_role_policy = data.aws_iam_policy_document.trust["ecs-tasks.amazonaws.com"].json
}

data "aws_iam_policy_document" "consumer_execution" {
  statement {
    sid       = "Logs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${var.consumer_log_group_arn}:*"]
  }

  statement {
    sid       = "CspToken"
    actions   = ["secretsmanager:GetSecretValue"]
    resources = [var.secret_arns["csp"]]
  }

  dynamic "statement" {
    # Only when the image is in ECR (another registry needs no AWS permission).
    for_each = var.ecr_repository_arn == "" ? [] : [var.ecr_repository_arn]
    content {
      sid = "PullImage"
      actions = [
        "ecr:BatchCheckLayerAvailability",
        "ecr:BatchGetImage",
        "ecr:GetDownloadUrlForLayer",
      ]
      resources = [statement.value]
    }
  }

  dynamic "statement" {
    for_each = var.ecr_repository_arn == "" ? [] : [var.ecr_repository_arn]
    content {
      sid = "EcrLogin"
      # GetAuthorizationToken has no resource-level permissions: "*" is the only form.
      actions   = ["ecr:GetAuthorizationToken"]
      resources = ["*"]
    }
  }
}

resource "aws_iam_role_policy" "consumer_execution" {
  name   = "pull-log-secret"
  role   = aws_iam_role.consumer_execution.id
  policy = data.aws_iam_policy_document.consumer_execution.json
}

# ---------------------------------------------------------------------------------------
# API Gateway direct integrations (SendMessage, GetItem)
# ---------------------------------------------------------------------------------------

resource "aws_iam_role" "api_gateway" {
  name               = "${var.stem}-api-integrations"
  description        = "API Gateway integrations: enqueue requests and jobs, read replies"
  assume_role_policy = data.aws_iam_policy_document.trust["apigateway.amazonaws.com"].json
}

data "aws_iam_policy_document" "api_gateway" {
  statement {
    sid       = "Enqueue"
    actions   = ["sqs:SendMessage"]
    resources = values(var.queue_arns)
  }

  statement {
    sid       = "ReadReplies"
    actions   = ["dynamodb:GetItem"]
    resources = [var.replies_table_arn]
  }
}

resource "aws_iam_role_policy" "api_gateway" {
  name   = "enqueue-and-read-replies"
  role   = aws_iam_role.api_gateway.id
  policy = data.aws_iam_policy_document.api_gateway.json
}

# API Gateway writes access and execution logs through one role per account and region.
# It is shared by every REST API there, so it carries AWS's own policy for that purpose;
# set manage_apigw_account_role = false where the account already has one.
resource "aws_iam_role" "api_gateway_logs" {
  count = var.manage_apigw_account_role ? 1 : 0

  name               = "${var.stem}-apigw-cloudwatch"
  description        = "API Gateway account setting: write access and execution logs"
  assume_role_policy = data.aws_iam_policy_document.trust["apigateway.amazonaws.com"].json
}

resource "aws_iam_role_policy_attachment" "api_gateway_logs" {
  count = var.manage_apigw_account_role ? 1 : 0

  role       = aws_iam_role.api_gateway_logs[0].name
  policy_arn = "arn:${data.aws_partition.current.partition}:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs"
}

# ---------------------------------------------------------------------------------------
# EventBridge Scheduler (job events)
# ---------------------------------------------------------------------------------------

resource "aws_iam_role" "scheduler" {
  name               = "${var.stem}-scheduler"
  description        = "EventBridge Scheduler: publish job events to the job queue"
  assume_role_policy = data.aws_iam_policy_document.trust["scheduler.amazonaws.com"].json
}

data "aws_iam_policy_document" "scheduler" {
  statement {
    sid       = "PublishJobs"
    actions   = ["sqs:SendMessage"]
    resources = [var.queue_arns["jobs"]]
  }
}

resource "aws_iam_role_policy" "scheduler" {
  name   = "publish-jobs"
  role   = aws_iam_role.scheduler.id
  policy = data.aws_iam_policy_document.scheduler.json
}

# ---------------------------------------------------------------------------------------
# Token authorizer Lambda
# ---------------------------------------------------------------------------------------

resource "aws_iam_role" "authorizer" {
  name               = "${var.stem}-authorizer"
  description        = "Token authorizer: read the track and admin tokens, write its logs"
  assume_role_policy = data.aws_iam_policy_document.trust["lambda.amazonaws.com"].json
}

# What the authorizer and the read Lambda both read: auth runs the same code in both.
data "aws_iam_policy_document" "token_reads" {
  statement {
    sid = "Tokens"
    # The track and admin tokens; v2: the signed-track-token secret, when there is one.
    actions   = ["secretsmanager:GetSecretValue"]
    resources = compact([var.secret_arns["track"], var.secret_arns["admin"], var.signing_secret_arn])
  }

  statement {
    sid = "TenantsReadOnly"
    # v2: a presented token's hash (GetItem TOKEN#<sha256>) and its tenant's config.
    actions   = ["dynamodb:GetItem"]
    resources = [var.tenants_table_arn]
  }
}

data "aws_iam_policy_document" "authorizer" {
  source_policy_documents = [data.aws_iam_policy_document.token_reads.json]

  statement {
    sid       = "Logs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${var.authorizer_log_group_arn}:*"]
  }
}

resource "aws_iam_role_policy" "authorizer" {
  name   = "tokens-and-logs"
  role   = aws_iam_role.authorizer.id
  policy = data.aws_iam_policy_document.authorizer.json
}

# ---------------------------------------------------------------------------------------
# Read Lambda (the gateway's code routes: a track's sandbox, pool stats, pool pages)
# ---------------------------------------------------------------------------------------

resource "aws_iam_role" "read_lambda" {
  name               = "${var.stem}-read-lambda"
  description        = "Read Lambda: read the pool table, its StatusIndex and lease history, the two tokens, write its logs"
  assume_role_policy = data.aws_iam_policy_document.trust["lambda.amazonaws.com"].json
}

data "aws_iam_policy_document" "read_lambda" {
  source_policy_documents = [data.aws_iam_policy_document.token_reads.json]

  statement {
    sid = "PoolPartitions"
    # The code routes' reads of the pool table, and no other partition of it:
    # GET /v1/sandboxes/{id}: one consistent GetItem on SBX#<id>;
    # v2 GET /v1/admin/stats by_tenant: Query Select=COUNT on each ACTIVE#<tenant>;
    # v2 GET /v1/admin/sandboxes/{id}/history: one Query per page on HIST#<id>.
    # (GetItem on the Queried partitions and a Query of the one-item SBX# partition read
    # nothing more than these.)
    actions   = ["dynamodb:GetItem", "dynamodb:Query"]
    resources = [var.pool_table_arn]
    condition {
      test     = "ForAllValues:StringLike"
      variable = "dynamodb:LeadingKeys"
      values   = ["ACTIVE#*", "HIST#*", "SBX#*"]
    }
  }

  statement {
    sid = "PoolByStatus"
    # GET /v1/admin/stats (Query COUNT per status) and /v1/admin/sandboxes (pages):
    # StatusIndex only, never a Scan.
    actions   = ["dynamodb:Query"]
    resources = ["${var.pool_table_arn}/index/StatusIndex"]
  }

  statement {
    sid = "TenantsList"
    # v2: the stats' by_tenant lists the tenants (one Query on the TENANT partition).
    actions   = ["dynamodb:Query"]
    resources = [var.tenants_table_arn]
  }

  statement {
    sid       = "Logs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${var.read_lambda_log_group_arn}:*"]
  }
}

resource "aws_iam_role_policy" "read_lambda" {
  name   = "pool-reads-tokens-logs"
  role   = aws_iam_role.read_lambda.id
  policy = data.aws_iam_policy_document.read_lambda.json
}
