variable "function_name" {
  description = "Name of the authorizer Lambda."
  type        = string
}

variable "role_arn" {
  description = "Execution role of the authorizer (reads the two token secrets, writes logs)."
  type        = string
}

variable "log_group_name" {
  description = "Log group the authorizer writes to."
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
  description = "Seconds the Lambda trusts tokens read from Secrets Manager before reading again."
  type        = number
}

variable "usage_keys" {
  description = "API key value of the usage plan of each role (track, admin)."
  type        = map(string)
  sensitive   = true
}

variable "reserved_concurrency" {
  description = "Reserved concurrent executions (-1: the account's unreserved pool)."
  type        = number
}

variable "tenants_table_name" {
  description = "The tenants table (v2): token hashes and tenant configs, read-only."
  type        = string
}

variable "signing_secret_arn" {
  description = "v2: ARN of the token signing secret (signed track tokens); empty: refused."
  type        = string
  default     = ""
}
