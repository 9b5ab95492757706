output "bus_name" {
  description = "The EventBridge bus lease events are put on (source sandbox-broker)."
  value       = aws_cloudwatch_event_bus.events.name
}

output "bus_arn" {
  description = "ARN of the events bus (rules for billing, notifications, audit attach here)."
  value       = aws_cloudwatch_event_bus.events.arn
}

output "dlq_name" {
  description = "Queue of the stream batches that could not be delivered."
  value       = aws_sqs_queue.dlq.name
}

output "function_name" {
  description = "Name of the events Lambda."
  value       = aws_lambda_function.events.function_name
}
