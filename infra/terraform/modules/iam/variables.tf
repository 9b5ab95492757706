variable "stem" {
  description = "Name stem of this stage's resources (name prefix + sandbox-broker)."
  type        = string
}

variable "queue_arns" {
  description = "Source queue ARNs by key (requests, jobs)."
  type        = map(string)
}

variable "dlq_arns" {
  description = "Dead-letter queue ARNs by source key (requests, jobs)."
  type        = map(string)
}

variable "pool_table_arn" {
  description = "ARN of the pool table."
  type        = string
}

variable "replies_table_arn" {
  description = "ARN of the reply table."
  type        = string
}

variable "tenants_table_arn" {
  description = "ARN of the tenants table (read-only for every role but the operator's)."
  type        = string
}

variable "secret_arns" {
  description = "Secret ARN by token (track, admin, csp)."
  type        = map(string)
}

variable "consumer_log_group_arn" {
  description = "ARN of the consumer's log group."
  type        = string
}

variable "authorizer_log_group_arn" {
  description = "ARN of the authorizer Lambda's log group."
  type        = string
}

variable "ecr_repository_arn" {
  description = "ARN of the ECR repository holding the consumer image; empty when not in ECR."
  type        = string
}

variable "manage_apigw_account_role" {
  description = "Create the account-wide API Gateway CloudWatch Logs role."
  type        = bool
}

variable "read_lambda_log_group_arn" {
  description = "Log group of the read Lambda."
  type        = string
}

variable "signing_secret_arn" {
  description = "v2: ARN of the token signing secret, read by the authorizer and the read Lambda (empty: none)."
  type        = string
  default     = ""
}
