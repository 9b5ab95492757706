output "api_url" {
  description = "Base URL of the API: POST <api_url>/v1/allocate."
  value       = module.api_gateway.invoke_url
}

output "api_custom_domain_url" {
  description = "https://<domain_name> when a custom domain is configured."
  value       = module.api_gateway.custom_domain_url
}

output "api_custom_domain_target" {
  description = "Point the custom domain's DNS record (CNAME / alias) here."
  value       = module.api_gateway.custom_domain_target
}

output "queue_urls" {
  description = "Queue URLs (requests, jobs and their DLQs)."
  value = {
    requests     = module.sqs.queue_urls["requests"]
    jobs         = module.sqs.queue_urls["jobs"]
    requests_dlq = module.sqs.dlq_urls["requests"]
    jobs_dlq     = module.sqs.dlq_urls["jobs"]
  }
}

output "resource_names" {
  description = "Queue and table names (what BROKER_NAME_PREFIX makes the Python side use)."
  value       = local.names
}

output "table_names" {
  description = "DynamoDB table names."
  value = {
    pool    = module.dynamodb.pool_table_name
    replies = module.dynamodb.replies_table_name
  }
}

output "token_secret_arns" {
  description = "Secrets holding the track, admin and CSP tokens and the signing secret (put their values out of band)."
  value       = module.secrets.arns
}

output "ecs_cluster" {
  description = "ECS cluster of the consumers."
  value       = module.ecs.cluster_name
}

output "ecs_service" {
  description = "ECS service of the consumers."
  value       = module.ecs.service_name
}

output "alarm_topic_arn" {
  description = "SNS topic the alarms notify."
  value       = module.cloudwatch.alarm_topic_arn
}

output "dashboard_name" {
  description = "CloudWatch dashboard."
  value       = module.cloudwatch.dashboard_name
}

output "log_groups" {
  description = "Log groups (consumer, authorizer, access)."
  value       = module.cloudwatch.log_group_names
}

output "schedules" {
  description = "EventBridge Scheduler schedules by job type."
  value       = module.scheduler.schedules
}

output "api_throttling" {
  description = "What the API admits: stage-wide (per method) and all tracks together (sized for max_event_tracks), and one track per 60 s (WAF)."
  value = {
    stage_rate_limit_per_s = local.stage_rate_limit_per_s
    stage_burst_limit      = local.stage_burst_limit
    track_per_60_s         = module.waf.limit_per_window
    max_event_tracks       = var.max_event_tracks
  }
}

output "read_lambda" {
  description = "Name of the read Lambda (its logs: /aws/lambda/<name>)."
  value       = module.read_lambda.function_name
}

output "events_bus_name" {
  description = "v2: the EventBridge bus of the lease events (source sandbox-broker)."
  value       = module.events.bus_name
}
