output "queue_arns" {
  description = "Source queue ARNs by key (requests, jobs)."
  value       = { for k, q in aws_sqs_queue.source : k => q.arn }
}

output "queue_urls" {
  description = "Source queue URLs by key (requests, jobs)."
  value       = { for k, q in aws_sqs_queue.source : k => q.url }
}

output "queue_names" {
  description = "Source queue names by key (requests, jobs)."
  value       = { for k, q in aws_sqs_queue.source : k => q.name }
}

output "dlq_arns" {
  description = "Dead-letter queue ARNs by source key (requests, jobs)."
  value       = { for k, q in aws_sqs_queue.dlq : k => q.arn }
}

output "dlq_urls" {
  description = "Dead-letter queue URLs by source key (requests, jobs)."
  value       = { for k, q in aws_sqs_queue.dlq : k => q.url }
}

output "dlq_names" {
  description = "Dead-letter queue names by source key (requests, jobs)."
  value       = { for k, q in aws_sqs_queue.dlq : k => q.name }
}
