output "web_acl_arn" {
  description = "ARN of the API's web ACL."
  value       = aws_wafv2_web_acl.api.arn
}

output "limit_per_window" {
  description = "Requests one (track, token) key may make in any 60 s before WAF answers 429."
  value       = local.limit_per_window
}
