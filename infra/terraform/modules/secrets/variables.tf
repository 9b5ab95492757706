variable "stem" {
  description = "Name stem of this stage's resources (name prefix + sandbox-broker)."
  type        = string
}

variable "track_token_secret_arn" {
  description = "ARN of an existing secret holding the track token; empty creates one."
  type        = string
}

variable "admin_token_secret_arn" {
  description = "ARN of an existing secret holding the admin token; empty creates one."
  type        = string
}

variable "csp_token_secret_arn" {
  description = "ARN of an existing secret holding the CSP API token; empty creates one."
  type        = string
}

variable "signing_secret_arn" {
  description = "v2: ARN of an existing secret holding the token signing secret; empty creates one."
  type        = string
  default     = ""
}
