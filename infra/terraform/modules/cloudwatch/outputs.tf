output "log_group_names" {
  description = "Log group names by owner (consumer, authorizer, access)."
  value       = { for k, g in aws_cloudwatch_log_group.this : k => g.name }
}

output "log_group_arns" {
  description = "Log group ARNs by owner (consumer, authorizer, access)."
  value       = { for k, g in aws_cloudwatch_log_group.this : k => g.arn }
}

output "alarm_topic_arn" {
  description = "SNS topic every alarm notifies."
  value       = aws_sns_topic.alarms.arn
}

output "dashboard_name" {
  description = "CloudWatch dashboard of the stage."
  value       = aws_cloudwatch_dashboard.this.dashboard_name
}

output "metric_namespace" {
  description = "Namespace of the log-derived metrics."
  value       = local.namespace
}
