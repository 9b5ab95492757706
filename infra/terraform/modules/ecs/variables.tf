variable "stem" {
  description = "Name stem of this stage's resources (name prefix + sandbox-broker)."
  type        = string
}

variable "name_prefix" {
  description = "Resource name prefix the consumer applies to queue and table names (BROKER_NAME_PREFIX)."
  type        = string
}

variable "image" {
  description = "Container image of the consumer (this repository's Dockerfile)."
  type        = string
}

variable "cpu" {
  description = "Task CPU units (256, 512, 1024, ...)."
  type        = number
}

variable "memory" {
  description = "Task memory in MiB."
  type        = number
}

variable "cpu_architecture" {
  description = "X86_64 or ARM64 (must match the image)."
  type        = string
}

variable "min_tasks" {
  description = "Fewest consumer tasks."
  type        = number
}

variable "max_tasks" {
  description = "Most consumer tasks."
  type        = number
}

variable "backlog_per_task_target" {
  description = "Visible messages per task the scaling policy aims at."
  type        = number
}

variable "max_workers" {
  description = "Concurrent handlers per task (BROKER_MAX_WORKERS)."
  type        = number
}

variable "http_port" {
  description = "Port of the consumer's /healthz, /readyz and /metrics (BROKER_HTTP_PORT)."
  type        = number
}

variable "shutdown_timeout_s" {
  description = "Drain deadline after SIGTERM (BROKER_SHUTDOWN_TIMEOUT_S); stopTimeout is derived from it."
  type        = number
}

variable "visibility_timeout_s" {
  description = "BROKER_VISIBILITY_TIMEOUT_S (must equal the queues' setting)."
  type        = number
}

variable "max_receive_count" {
  description = "BROKER_MAX_RECEIVE_COUNT (must equal the queues' redrive setting)."
  type        = number
}

variable "reply_ttl_s" {
  description = "BROKER_REPLY_TTL_S: how long reply rows live."
  type        = number
}

variable "csp_base_url" {
  description = "Base URL of the cloud service portal API (BROKER_CSP_BASE_URL)."
  type        = string
}

variable "csp_token_secret_arn" {
  description = "Secret holding the CSP API token (injected as BROKER_CSP_TOKEN)."
  type        = string
}

variable "extra_environment" {
  description = "Further BROKER_* settings for the consumer (schemas.settings.ConsumerSettings)."
  type        = map(string)
}

variable "requests_queue_name" {
  description = "Request queue (scaling metric)."
  type        = string
}

variable "jobs_queue_name" {
  description = "Job queue (scaling metric)."
  type        = string
}

variable "log_group_name" {
  description = "Log group of the consumer."
  type        = string
}

variable "task_role_arn" {
  description = "Role of the consumer application."
  type        = string
}

variable "execution_role_arn" {
  description = "ECS task execution role."
  type        = string
}

variable "vpc_id" {
  description = "VPC of the tasks."
  type        = string
}

variable "subnet_ids" {
  description = "Subnets of the tasks (private subnets with a NAT gateway or VPC endpoints)."
  type        = list(string)
}

variable "assign_public_ip" {
  description = "Give tasks public IPs (only for public subnets without NAT)."
  type        = bool
}
