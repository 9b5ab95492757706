# Defaults equal the Python settings' defaults (schemas/settings.py) wherever both name the
# same thing; tests/infra/test_terraform_settings.py checks it.

# -- where ------------------------------------------------------------------------------

variable "region" {
  description = "AWS region of the stack (BROKER_AWS_REGION / AWS_REGION)."
  type        = string
  default     = "us-east-1"
}

variable "name_prefix" {
  description = "Prefix of every queue, table and other name (BROKER_NAME_PREFIX), e.g. \"staging-\"; one account can hold many stages."
  type        = string
  default     = ""

  validation {
    condition     = can(regex("^[A-Za-z0-9_-]{0,40}$", var.name_prefix))
    error_message = "name_prefix: at most 40 of [A-Za-z0-9_-] (as BROKER_NAME_PREFIX)."
  }
}

variable "tags" {
  description = "Extra tags on every resource."
  type        = map(string)
  default     = {}
}

# -- queues and tables ------------------------------------------------------------------

variable "visibility_timeout_s" {
  description = "Visibility timeout of every queue (BROKER_VISIBILITY_TIMEOUT_S); the consumer's heartbeat extends it while work runs, so it only bounds how long a crashed consumer's messages wait."
  type        = number
  default     = 20
}

variable "message_retention_s" {
  description = "Message retention of every queue (BROKER_MESSAGE_RETENTION_S)."
  type        = number
  default     = 1209600
}

variable "max_receive_count" {
  description = "Receives before a message moves to its DLQ (BROKER_MAX_RECEIVE_COUNT)."
  type        = number
  default     = 5
}

variable "reply_ttl_s" {
  description = "How long reply rows live (BROKER_REPLY_TTL_S)."
  type        = number
  default     = 86400
}

variable "deletion_protection" {
  description = "Protect both tables from deletion (set false before destroying a stage)."
  type        = bool
  default     = true
}

# -- secrets (ARNs only; values never in code or state) ---------------------------------

variable "track_token_secret_arn" {
  description = "Secrets Manager ARN of the track bearer token; empty creates an empty secret to fill."
  type        = string
  default     = ""
}

variable "token_signing_secret_arn" {
  description = "v2: Secrets Manager ARN of BROKER_TOKEN_SIGNING_SECRET (signed track tokens, >= 24 chars); empty creates an empty secret to fill (until then signed tokens are refused)."
  type        = string
  default     = ""
}

variable "admin_token_secret_arn" {
  description = "Secrets Manager ARN of the admin bearer token; empty creates an empty secret to fill."
  type        = string
  default     = ""
}

variable "csp_token_secret_arn" {
  description = "Secrets Manager ARN of the CSP API token; empty creates an empty secret to fill."
  type        = string
  default     = ""
}

# -- consumers (ECS Fargate) ------------------------------------------------------------

variable "image" {
  description = "Container image built from this repository's Dockerfile, e.g. <account>.dkr.ecr.<region>.amazonaws.com/sandbox-broker:<tag>."
  type        = string
}

variable "csp_base_url" {
  description = "Base URL of the cloud service portal API (BROKER_CSP_BASE_URL)."
  type        = string
}

variable "vpc_id" {
  description = "VPC of the consumer tasks."
  type        = string
}

variable "subnet_ids" {
  description = "Subnets of the consumer tasks: private with a NAT gateway (or VPC endpoints for SQS, DynamoDB, Secrets Manager, Logs, ECR) since they call AWS APIs and the CSP."
  type        = list(string)
}

variable "assign_public_ip" {
  description = "Give tasks public IPs (only for public subnets without NAT)."
  type        = bool
  default     = false
}

variable "consumer_cpu" {
  description = "CPU units per consumer task."
  type        = number
  default     = 512
}

variable "consumer_memory" {
  description = "Memory (MiB) per consumer task."
  type        = number
  default     = 1024
}

variable "consumer_cpu_architecture" {
  description = "X86_64 or ARM64; must match the image."
  type        = string
  default     = "X86_64"
}

variable "consumer_min_tasks" {
  description = "Fewest consumer tasks (at least 1: nothing else answers requests)."
  type        = number
  default     = 1

  validation {
    condition     = var.consumer_min_tasks >= 1
    error_message = "consumer_min_tasks must be at least 1."
  }
}

variable "consumer_max_tasks" {
  description = "Most consumer tasks."
  type        = number
  default     = 10
}

variable "backlog_per_task_target" {
  description = "Visible messages per task the scaling policy aims at (acceptable latency / seconds per message x handlers per task)."
  type        = number
  default     = 100
}

variable "consumer_max_workers" {
  description = "Concurrent handlers per task (BROKER_MAX_WORKERS)."
  type        = number
  default     = 16
}

variable "consumer_http_port" {
  description = "Port of /healthz, /readyz and /metrics inside the task (BROKER_HTTP_PORT)."
  type        = number
  default     = 8001
}

variable "shutdown_timeout_s" {
  description = "Drain deadline after SIGTERM (BROKER_SHUTDOWN_TIMEOUT_S); the container's stopTimeout is twice this, 60-120 s."
  type        = number
  default     = 30

  validation {
    condition     = var.shutdown_timeout_s >= 0 && var.shutdown_timeout_s <= 60
    error_message = "shutdown_timeout_s must be 0-60: Fargate stops a container at most 120 s after SIGTERM."
  }
}

variable "consumer_environment" {
  description = "Further BROKER_* settings of the consumer, e.g. { BROKER_LAB_DURATION_S = \"14400\" } (schemas.settings.ConsumerSettings)."
  type        = map(string)
  default     = {}

  validation {
    condition     = alltrue([for k in keys(var.consumer_environment) : startswith(k, "BROKER_")])
    error_message = "consumer_environment holds BROKER_* settings only; secrets belong in Secrets Manager."
  }
}

# -- periodic jobs (EventBridge Scheduler) ---------------------------------------------

variable "schedules_enabled" {
  description = "Run the job schedules."
  type        = bool
  default     = true
}

variable "sync_interval_s" {
  description = "Seconds between sync jobs (BROKER_SYNC_INTERVAL_S)."
  type        = number
  default     = 600
}

variable "cleanup_interval_s" {
  description = "Seconds between cleanup jobs (BROKER_CLEANUP_INTERVAL_S)."
  type        = number
  default     = 300
}

variable "expire_interval_s" {
  description = "Seconds between expire jobs (BROKER_EXPIRE_INTERVAL_S)."
  type        = number
  default     = 300
}

variable "delete_stale_interval_s" {
  description = "Seconds between delete_stale jobs (BROKER_DELETE_STALE_INTERVAL_S)."
  type        = number
  default     = 86400
}

# -- API Gateway ------------------------------------------------------------------------

variable "api_stage_name" {
  description = "API Gateway stage name."
  type        = string
  default     = "live"
}

variable "token_cache_ttl_s" {
  description = "Seconds the authorizer trusts tokens read from Secrets Manager (rotation takes effect within this plus authorizer_cache_ttl_s)."
  type        = number
  default     = 60
}

variable "authorizer_cache_ttl_s" {
  description = "Seconds API Gateway caches the authorizer's answer per token."
  type        = number
  default     = 300
}

variable "max_event_tracks" {
  description = "The largest event this deployment serves unthrottled: this many tracks allocating within one minute, each polling on the track client's schedule (see throttling.tf)."
  type        = number
  default     = 2000

  validation {
    condition     = var.max_event_tracks >= 1
    error_message = "max_event_tracks must be at least 1."
  }
}

variable "event_reply_s" {
  description = "How long an allocation or release may take to answer during such an event (the track polls once a second meanwhile): sizes the polls per request."
  type        = number
  default     = 10

  validation {
    condition     = var.event_reply_s >= 2
    error_message = "event_reply_s must be at least 2 (the track client's first four polls span 1.5 s)."
  }
}

variable "event_headroom" {
  description = "Factor over the event's steady rate: an event whose tracks start this many times closer together is still unthrottled."
  type        = number
  default     = 2

  validation {
    condition     = var.event_headroom >= 1
    error_message = "event_headroom must be at least 1."
  }
}

variable "api_rate_limit_per_s" {
  description = "Stage-wide steady requests per second (each method's bucket); null derives it from max_event_tracks (throttling.tf)."
  type        = number
  default     = null
}

variable "api_burst_limit" {
  description = "Stage-wide burst; null derives it from max_event_tracks (throttling.tf)."
  type        = number
  default     = null
}

variable "track_rate_limit_per_min" {
  description = "Calls per minute of one track (BROKER_RATE_LIMIT_PER_MIN): on AWS a WAF rate-based rule per (track header, Authorization) pair, allowing this plus the burst in any 60 s."
  type        = number
  default     = 100
}

variable "track_rate_limit_burst" {
  description = "Burst of one track (BROKER_RATE_LIMIT_BURST)."
  type        = number
  default     = 20
}

variable "cors_origins" {
  description = "Origins whose browsers may call the API (BROKER_CORS_ORIGINS); [] allows none, \"*\" any. E.g. [\"https://play.instruqt.com\"]."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for o in var.cors_origins : o == "*" || can(regex("^https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?$", o))])
    error_message = "Each origin is \"*\" or scheme://host[:port], without a path or a trailing slash."
  }
}

variable "authorizer_reserved_concurrency" {
  description = "Reserved concurrent executions of the authorizer (-1: the account's unreserved pool)."
  type        = number
  default     = -1
}

variable "read_lambda_reserved_concurrency" {
  description = "Reserved concurrent executions of the read Lambda (-1: the account's unreserved pool)."
  type        = number
  default     = -1
}

variable "admin_rate_limit_per_min" {
  description = "Admin calls per minute (BROKER_ADMIN_RATE_LIMIT_PER_MIN)."
  type        = number
  default     = 600
}

variable "admin_rate_limit_burst" {
  description = "Burst of admin calls (BROKER_ADMIN_RATE_LIMIT_BURST)."
  type        = number
  default     = 100
}

variable "domain_name" {
  description = "Custom domain of the API (e.g. sandboxes.example.com); empty for the execute-api URL only."
  type        = string
  default     = ""
}

variable "certificate_arn" {
  description = "ACM certificate in the same region for domain_name."
  type        = string
  default     = ""
}

variable "manage_apigw_account_role" {
  description = "Set the account's API Gateway CloudWatch Logs role (needed for access logs; one per account and region: false if already set)."
  type        = bool
  default     = true
}

# -- observability ----------------------------------------------------------------------

variable "log_retention_days" {
  description = "Days CloudWatch keeps the logs."
  type        = number
  default     = 30
}

variable "alarm_emails" {
  description = "Addresses notified by the alarm topic."
  type        = list(string)
  default     = []
}

variable "queue_age_slo_s" {
  description = "Alarm when a request or job waits longer than this (age of oldest message)."
  type        = number
  default     = 300
}

variable "backlog_per_task_alarm" {
  description = "Alarm when visible messages per running task stay above this for 5 minutes."
  type        = number
  default     = 300
}

variable "pool_available_min" {
  description = "Alarm when fewer sandboxes than this are available."
  type        = number
  default     = 5
}

variable "consumer_error_rate_pct" {
  description = "Alarm when more than this percentage of received messages log an error."
  type        = number
  default     = 5
}

variable "api_5xx_rate" {
  description = "Alarm when more than this fraction of API calls answer 5xx."
  type        = number
  default     = 0.01
}
