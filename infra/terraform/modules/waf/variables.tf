variable "stem" {
  description = "Name stem of this stage's resources."
  type        = string
}

variable "stage_arn" {
  description = "ARN of the API Gateway stage the web ACL protects."
  type        = string
}

variable "track_rate_limit_per_min" {
  description = "Per-track calls per minute (BROKER_RATE_LIMIT_PER_MIN)."
  type        = number
}

variable "track_rate_limit_burst" {
  description = "Per-track burst (BROKER_RATE_LIMIT_BURST)."
  type        = number
}

variable "retry_after_s" {
  description = "Retry-After of a blocked request: WAF lifts a block once the key's rate is under the limit again, which it re-evaluates every few seconds."
  type        = number
  default     = 10
}

variable "cors_origins" {
  description = "Allowed CORS origins (a blocked answer can name one statically)."
  type        = list(string)
}

variable "log_retention_days" {
  description = "Days CloudWatch keeps the WAF log."
  type        = number
}
