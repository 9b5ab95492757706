variable "stem" {
  description = "Name stem of this stage's resources (name prefix + sandbox-broker)."
  type        = string
}

variable "jobs_queue_url" {
  description = "URL of the job queue the events are sent to."
  type        = string
}

variable "role_arn" {
  description = "Role Scheduler assumes (sqs:SendMessage on the job queue only)."
  type        = string
}

variable "enabled" {
  description = "Run the schedules (false keeps them, disabled)."
  type        = bool
}

variable "sync_interval_s" {
  description = "Seconds between sync jobs (BROKER_SYNC_INTERVAL_S)."
  type        = number
}

variable "cleanup_interval_s" {
  description = "Seconds between cleanup jobs (BROKER_CLEANUP_INTERVAL_S)."
  type        = number
}

variable "expire_interval_s" {
  description = "Seconds between expire jobs (BROKER_EXPIRE_INTERVAL_S)."
  type        = number
}

variable "delete_stale_interval_s" {
  description = "Seconds between delete_stale jobs (BROKER_DELETE_STALE_INTERVAL_S)."
  type        = number
}
