variable "requests_queue_name" {
  description = "Name of the request queue (allocate / release), e.g. sandbox-requests.fifo."
  type        = string
}

variable "requests_dlq_name" {
  description = "Name of the request queue's dead-letter queue."
  type        = string
}

variable "jobs_queue_name" {
  description = "Name of the job queue (sync / cleanup / expire / delete_stale / delete_sandbox)."
  type        = string
}

variable "jobs_dlq_name" {
  description = "Name of the job queue's dead-letter queue."
  type        = string
}

variable "visibility_timeout_s" {
  description = "Visibility timeout of every queue (BROKER_VISIBILITY_TIMEOUT_S)."
  type        = number
}

variable "message_retention_s" {
  description = "Message retention of every queue (BROKER_MESSAGE_RETENTION_S)."
  type        = number
}

variable "max_receive_count" {
  description = "Receives before SQS moves a message to its DLQ (BROKER_MAX_RECEIVE_COUNT)."
  type        = number
}
