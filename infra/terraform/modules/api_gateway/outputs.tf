output "rest_api_id" {
  description = "Id of the REST API."
  value       = aws_api_gateway_rest_api.this.id
}

output "name" {
  description = "Name of the REST API (the ApiName metric dimension)."
  value       = aws_api_gateway_rest_api.this.name
}

output "stage_name" {
  description = "Stage name (the Stage metric dimension)."
  value       = aws_api_gateway_stage.this.stage_name
}

output "invoke_url" {
  description = "Base URL of the API (append /v1/allocate etc.)."
  value       = aws_api_gateway_stage.this.invoke_url
}

output "custom_domain_url" {
  description = "https://<domain> when a custom domain is configured, else empty."
  value       = var.domain_name == "" ? "" : "https://${var.domain_name}"
}

output "custom_domain_target" {
  description = "Regional domain name to point the custom domain's DNS record at."
  value       = var.domain_name == "" ? "" : aws_api_gateway_domain_name.this[0].regional_domain_name
}

output "usage_keys" {
  description = "API key value of each role's usage plan (for the authorizer)."
  value       = { for k, key in aws_api_gateway_api_key.role : k => key.value }
  sensitive   = true
}

output "stage_arn" {
  description = "ARN of the stage (what the WAF web ACL is associated with)."
  value       = aws_api_gateway_stage.this.arn
}

output "stage_rate_limit_per_s" {
  description = "Stage-wide steady requests per second (per method)."
  value       = var.stage_rate_limit_per_s
}

output "stage_burst_limit" {
  description = "Stage-wide burst (per method)."
  value       = var.stage_burst_limit
}
