variable "function_name" {
  description = "Name of the read Lambda."
  type        = string
}

variable "role_arn" {
  description = "Execution role (reads the pool table and the two token secrets, writes its logs)."
  type        = string
}

variable "log_group_name" {
  description = "Log group the read Lambda writes to."
  type        = string
}

variable "name_prefix" {
  description = "BROKER_NAME_PREFIX: which stage's tables it reads."
  type        = string
}

variable "track_token_secret_arn" {
  description = "Secret holding the track token."
  type        = string
}

variable "admin_token_secret_arn" {
  description = "Secret holding the admin token."
  type        = string
}

variable "token_cache_ttl_s" {
  description = "Seconds the tokens read from Secrets Manager are trusted (the authorizer's value)."
  type        = number
}

variable "cors_origins" {
  description = "Origins whose browsers may read the answers (BROKER_CORS_ORIGINS)."
  type        = list(string)
}

variable "memory_mb" {
  description = "Memory (and so CPU) of the function: 512 MB halves the cold start of 128 MB."
  type        = number
  default     = 512
}

variable "timeout_s" {
  description = "Longest invocation: a read is a few DynamoDB calls, each bounded by the client's timeouts."
  type        = number
  default     = 10
}

variable "reserved_concurrency" {
  description = "Reserved concurrent executions (-1: the account's unreserved pool)."
  type        = number
}

variable "signing_secret_arn" {
  description = "v2: ARN of the token signing secret (signed track tokens); empty: refused."
  type        = string
  default     = ""
}
