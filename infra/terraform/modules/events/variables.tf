variable "stem" {
  description = "Name stem of every resource (name prefix + sandbox-broker)."
  type        = string
}

variable "name_prefix" {
  description = "Resource name prefix the Lambda finds the pool table by (BROKER_NAME_PREFIX)."
  type        = string
}

variable "function_name" {
  description = "Name of the events Lambda."
  type        = string
}

variable "pool_table_arn" {
  description = "ARN of the pool table (history items are written there)."
  type        = string
}

variable "pool_stream_arn" {
  description = "ARN of the pool table's stream."
  type        = string
}

variable "layer_arn" {
  description = "The read Lambda's dependency layer (the runtime lock), shared."
  type        = string
}

variable "history_ttl_s" {
  description = "How long the lease history keeps a lease after it ended (seconds)."
  type        = number
  default     = 7776000
}

variable "reserved_concurrency" {
  description = "Reserved concurrent executions of the events Lambda (one per shard suffices)."
  type        = number
  default     = 5
}

variable "max_iterator_age_s" {
  description = "Alarm when history and events lag the pool by more than this."
  type        = number
  default     = 300
}

variable "log_retention_days" {
  description = "Retention of the events Lambda's log group."
  type        = number
}

variable "alarm_topic_arn" {
  description = "SNS topic the alarms notify."
  type        = string
}
