variable "stem" {
  description = "Name stem of this stage's resources (name prefix + sandbox-broker)."
  type        = string
}

variable "log_retention_days" {
  description = "Days CloudWatch keeps the consumer, authorizer and access logs."
  type        = number
}

variable "authorizer_function_name" {
  description = "Name of the authorizer Lambda (its log group is /aws/lambda/<name>)."
  type        = string
}

variable "queue_names" {
  description = "Source queue names by key (requests, jobs)."
  type        = map(string)
}

variable "dlq_names" {
  description = "Dead-letter queue names by source key (requests, jobs)."
  type        = map(string)
}

variable "cluster_name" {
  description = "ECS cluster of the consumers."
  type        = string
}

variable "service_name" {
  description = "ECS service of the consumers."
  type        = string
}

variable "api_name" {
  description = "REST API name (ApiName dimension)."
  type        = string
}

variable "api_stage" {
  description = "REST API stage (Stage dimension)."
  type        = string
}

variable "queue_age_slo_s" {
  description = "Alarm when a source queue's oldest message is older than this."
  type        = number
}

variable "backlog_per_task_alarm" {
  description = "Alarm when visible messages per running task stay above this."
  type        = number
}

variable "pool_available_min" {
  description = "Alarm when fewer sandboxes than this are available."
  type        = number
}

variable "consumer_error_rate_pct" {
  description = "Alarm when more than this percentage of received messages log an error."
  type        = number
}

variable "api_5xx_rate" {
  description = "Alarm when more than this fraction (0-1) of API calls answer 5xx."
  type        = number
}

variable "alarm_emails" {
  description = "Addresses subscribed to the alarm topic (each must confirm by mail)."
  type        = list(string)
}

variable "read_lambda_function_name" {
  description = "Name of the read Lambda (its log group and alarms)."
  type        = string
}

variable "allocation_surge_band" {
  description = "v2: width (standard deviations) of the usual allocations band; above it alarms."
  type        = number
  default     = 4
}

variable "tenant_allocations_per_min_alarm" {
  description = "v2: alarm when one tenant takes more sandboxes than this in a minute."
  type        = number
  default     = 200
}

variable "available_drop_alarm" {
  description = "v2: alarm when available sandboxes fall by more than this between two syncs."
  type        = number
  default     = 100
}
