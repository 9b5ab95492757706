# Sandbox Broker on AWS: SQS FIFO + DynamoDB, API Gateway (direct integrations, token
# authorizer), EventBridge Scheduler for the periodic jobs, ECS Fargate consumers,
# CloudWatch logs / metrics / alarms / dashboard. See README.md.

provider "aws" {
  region = var.region

  default_tags {
    tags = merge({ Project = "sandbox-broker", Stage = local.stem }, var.tags)
  }
}

data "aws_partition" "current" {}

locals {
  # The names schemas.names.ResourceNames.with_prefix(name_prefix) gives the Python side;
  # tests/infra/test_terraform_drift.py holds the two together.
  names = {
    requests_queue = "${var.name_prefix}sandbox-requests.fifo"
    requests_dlq   = "${var.name_prefix}sandbox-requests-dlq.fifo"
    jobs_queue     = "${var.name_prefix}sandbox-jobs.fifo"
    jobs_dlq       = "${var.name_prefix}sandbox-jobs-dlq.fifo"
    pool_table     = "${var.name_prefix}sandbox-pool"
    replies_table  = "${var.name_prefix}sandbox-replies"
    tenants_table  = "${var.name_prefix}sandbox-tenants"
    history_table  = "${var.name_prefix}sandbox-history"
  }
  # Everything else this stack names: one stem per stage (stages may share an account).
  stem                     = "${var.name_prefix}sandbox-broker"
  authorizer_function_name = "${local.stem}-authorizer"
  read_lambda_function_name = "${local.stem}-read"

  # <account>.dkr.ecr.<region>.amazonaws.com[.cn]/<repository>[:tag|@digest]: the execution
  # role may pull from exactly that repository. Other registries need no AWS permission.
  ecr_image          = regexall("^([0-9]+)\\.dkr\\.ecr\\.([a-z0-9-]+)\\.amazonaws\\.com(?:\\.cn)?/([^:@]+)", var.image)
  ecr_repository_arn = length(local.ecr_image) == 0 ? "" : "arn:${data.aws_partition.current.partition}:ecr:${local.ecr_image[0][1]}:${local.ecr_image[0][0]}:repository/${local.ecr_image[0][2]}"
}

module "sqs" {
  source = "./modules/sqs"

  requests_queue_name  = local.names.requests_queue
  requests_dlq_name    = local.names.requests_dlq
  jobs_queue_name      = local.names.jobs_queue
  jobs_dlq_name        = local.names.jobs_dlq
  visibility_timeout_s = var.visibility_timeout_s
  message_retention_s  = var.message_retention_s
  max_receive_count    = var.max_receive_count
}

module "dynamodb" {
  source = "./modules/dynamodb"

  pool_table_name     = local.names.pool_table
  replies_table_name  = local.names.replies_table
  tenants_table_name  = local.names.tenants_table
  deletion_protection = var.deletion_protection
}

module "secrets" {
  source = "./modules/secrets"

  stem                   = local.stem
  track_token_secret_arn = var.track_token_secret_arn
  admin_token_secret_arn = var.admin_token_secret_arn
  csp_token_secret_arn   = var.csp_token_secret_arn
  signing_secret_arn     = var.token_signing_secret_arn
}

module "iam" {
  source = "./modules/iam"

  stem                      = local.stem
  queue_arns                = module.sqs.queue_arns
  dlq_arns                  = module.sqs.dlq_arns
  pool_table_arn            = module.dynamodb.pool_table_arn
  replies_table_arn         = module.dynamodb.replies_table_arn
  tenants_table_arn         = module.dynamodb.tenants_table_arn
  signing_secret_arn        = module.secrets.arns["signing"]
  secret_arns               = module.secrets.arns
  consumer_log_group_arn    = module.cloudwatch.log_group_arns["consumer"]
  authorizer_log_group_arn  = module.cloudwatch.log_group_arns["authorizer"]
  read_lambda_log_group_arn = module.cloudwatch.log_group_arns["read_lambda"]
  ecr_repository_arn        = local.ecr_repository_arn
  manage_apigw_account_role = var.manage_apigw_account_role
}

module "authorizer" {
  source = "./modules/authorizer"

  function_name          = local.authorizer_function_name
  role_arn               = module.iam.authorizer_role_arn
  log_group_name         = module.cloudwatch.log_group_names["authorizer"]
  track_token_secret_arn = module.secrets.arns["track"]
  admin_token_secret_arn = module.secrets.arns["admin"]
  token_cache_ttl_s      = var.token_cache_ttl_s
  tenants_table_name     = module.dynamodb.tenants_table_name
  signing_secret_arn     = module.secrets.arns["signing"]
  usage_keys             = module.api_gateway.usage_keys
  reserved_concurrency   = var.authorizer_reserved_concurrency
}

module "read_lambda" {
  source = "./modules/read_lambda"

  function_name          = local.read_lambda_function_name
  role_arn               = module.iam.read_lambda_role_arn
  log_group_name         = module.cloudwatch.log_group_names["read_lambda"]
  name_prefix            = var.name_prefix
  track_token_secret_arn = module.secrets.arns["track"]
  admin_token_secret_arn = module.secrets.arns["admin"]
  signing_secret_arn     = module.secrets.arns["signing"]
  token_cache_ttl_s      = var.token_cache_ttl_s
  cors_origins           = var.cors_origins
  reserved_concurrency   = var.read_lambda_reserved_concurrency
}

# v2: lease history and events (pool table stream → stream Lambda → EventBridge bus).
module "events" {
  source = "./modules/events"

  stem               = local.stem
  name_prefix        = var.name_prefix
  function_name      = "${local.stem}-events"
  pool_table_arn     = module.dynamodb.pool_table_arn
  pool_stream_arn    = module.dynamodb.pool_table_stream_arn
  layer_arn          = module.read_lambda.layer_arn
  log_retention_days = var.log_retention_days
  alarm_topic_arn    = module.cloudwatch.alarm_topic_arn
}

module "waf" {
  source = "./modules/waf"

  stem                     = local.stem
  stage_arn                = module.api_gateway.stage_arn
  track_rate_limit_per_min = var.track_rate_limit_per_min
  track_rate_limit_burst   = var.track_rate_limit_burst
  cors_origins             = var.cors_origins
  log_retention_days       = var.log_retention_days
}

module "api_gateway" {
  source = "./modules/api_gateway"

  stem                        = local.stem
  stage_name                  = var.api_stage_name
  requests_queue_name         = module.sqs.queue_names["requests"]
  jobs_queue_name             = module.sqs.queue_names["jobs"]
  replies_table_name          = module.dynamodb.replies_table_name
  integration_role_arn        = module.iam.api_gateway_role_arn
  manage_account_logging_role = var.manage_apigw_account_role
  cloudwatch_role_arn         = module.iam.api_gateway_logs_role_arn
  authorizer_invoke_arn       = module.authorizer.invoke_arn
  authorizer_function_name    = module.authorizer.function_name
  authorizer_cache_ttl_s      = var.authorizer_cache_ttl_s
  access_log_group_arn        = module.cloudwatch.log_group_arns["access"]
  stage_rate_limit_per_s      = local.stage_rate_limit_per_s
  stage_burst_limit           = local.stage_burst_limit
  # Until per-tenant plans: every track shares one budget, the event's (per-track limits
  # are the WAF rules).
  track_plan_rate_per_s     = local.stage_rate_limit_per_s
  track_plan_burst          = local.stage_burst_limit
  read_lambda_invoke_arn    = module.read_lambda.invoke_arn
  read_lambda_function_name = module.read_lambda.function_name
  cors_origins              = var.cors_origins
  admin_rate_limit_per_min    = var.admin_rate_limit_per_min
  admin_rate_limit_burst      = var.admin_rate_limit_burst
  domain_name                 = var.domain_name
  certificate_arn             = var.certificate_arn
}

module "scheduler" {
  source = "./modules/scheduler"

  stem                    = local.stem
  jobs_queue_url          = module.sqs.queue_urls["jobs"]
  role_arn                = module.iam.scheduler_role_arn
  enabled                 = var.schedules_enabled
  sync_interval_s         = var.sync_interval_s
  cleanup_interval_s      = var.cleanup_interval_s
  expire_interval_s       = var.expire_interval_s
  delete_stale_interval_s = var.delete_stale_interval_s
}

module "ecs" {
  source = "./modules/ecs"

  stem                    = local.stem
  name_prefix             = var.name_prefix
  image                   = var.image
  cpu                     = var.consumer_cpu
  memory                  = var.consumer_memory
  cpu_architecture        = var.consumer_cpu_architecture
  min_tasks               = var.consumer_min_tasks
  max_tasks               = var.consumer_max_tasks
  backlog_per_task_target = var.backlog_per_task_target
  max_workers             = var.consumer_max_workers
  http_port               = var.consumer_http_port
  shutdown_timeout_s      = var.shutdown_timeout_s
  visibility_timeout_s    = var.visibility_timeout_s
  max_receive_count       = var.max_receive_count
  reply_ttl_s             = var.reply_ttl_s
  csp_base_url            = var.csp_base_url
  csp_token_secret_arn    = module.secrets.arns["csp"]
  extra_environment       = var.consumer_environment
  requests_queue_name     = module.sqs.queue_names["requests"]
  jobs_queue_name         = module.sqs.queue_names["jobs"]
  log_group_name          = module.cloudwatch.log_group_names["consumer"]
  task_role_arn           = module.iam.consumer_task_role_arn
  execution_role_arn      = module.iam.consumer_execution_role_arn
  vpc_id                  = var.vpc_id
  subnet_ids              = var.subnet_ids
  assign_public_ip        = var.assign_public_ip
}

module "cloudwatch" {
  source = "./modules/cloudwatch"

  stem                     = local.stem
  log_retention_days       = var.log_retention_days
  authorizer_function_name = local.authorizer_function_name
  read_lambda_function_name = local.read_lambda_function_name
  queue_names              = module.sqs.queue_names
  dlq_names                = module.sqs.dlq_names
  cluster_name             = module.ecs.cluster_name
  service_name             = module.ecs.service_name
  api_name                 = module.api_gateway.name
  api_stage                = module.api_gateway.stage_name
  queue_age_slo_s          = var.queue_age_slo_s
  backlog_per_task_alarm   = var.backlog_per_task_alarm
  pool_available_min       = var.pool_available_min
  consumer_error_rate_pct  = var.consumer_error_rate_pct
  api_5xx_rate             = var.api_5xx_rate
  alarm_emails             = var.alarm_emails
}
