variable "stem" {
  description = "Name stem of this stage's resources (name prefix + sandbox-broker)."
  type        = string
}

variable "stage_name" {
  description = "API Gateway stage name (part of the invoke URL without a custom domain)."
  type        = string
}

variable "requests_queue_name" {
  description = "Queue allocate and release requests are sent to."
  type        = string
}

variable "jobs_queue_name" {
  description = "Queue admin job requests are sent to."
  type        = string
}

variable "replies_table_name" {
  description = "Table replies are read from."
  type        = string
}

variable "integration_role_arn" {
  description = "Role the SQS and DynamoDB integrations assume."
  type        = string
}

variable "manage_account_logging_role" {
  description = "Set the account-wide API Gateway CloudWatch Logs role (cloudwatch_role_arn)."
  type        = bool
}

variable "cloudwatch_role_arn" {
  description = "Account-wide API Gateway logging role (used when manage_account_logging_role)."
  type        = string
}

variable "authorizer_invoke_arn" {
  description = "Invoke ARN of the token authorizer Lambda."
  type        = string
}

variable "authorizer_function_name" {
  description = "Name of the token authorizer Lambda (for its invoke permission)."
  type        = string
}

variable "authorizer_cache_ttl_s" {
  description = "Seconds API Gateway caches an authorizer answer per token (0 disables)."
  type        = number
}

variable "access_log_group_arn" {
  description = "Log group of the JSON access logs."
  type        = string
}

variable "stage_rate_limit_per_s" {
  description = "Steady-state requests per second over the whole stage."
  type        = number
}

variable "stage_burst_limit" {
  description = "Burst over the whole stage."
  type        = number
}

variable "track_plan_rate_per_s" {
  description = "Requests per second all tracks together may make (usage plan of the track role; per-track limits are the WAF rules)."
  type        = number
}

variable "track_plan_burst" {
  description = "Burst of all tracks together."
  type        = number
}

variable "admin_rate_limit_per_min" {
  description = "Admin calls per minute (usage plan of the admin token)."
  type        = number
}

variable "admin_rate_limit_burst" {
  description = "Burst of admin calls."
  type        = number
}

variable "domain_name" {
  description = "Custom domain of the API; empty for none."
  type        = string
}

variable "certificate_arn" {
  description = "ACM certificate (same region) of the custom domain."
  type        = string
}

variable "read_lambda_invoke_arn" {
  description = "Invoke ARN of the read Lambda (the routes that need code)."
  type        = string
}

variable "read_lambda_function_name" {
  description = "Name of the read Lambda (for its invoke permissions)."
  type        = string
}

variable "cors_origins" {
  description = "Origins whose browsers may read the answers; [] none, \"*\" any."
  type        = list(string)
}
