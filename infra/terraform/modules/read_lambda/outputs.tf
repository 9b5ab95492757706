output "function_name" {
  description = "Name of the read Lambda."
  value       = aws_lambda_function.read.function_name
}

output "invoke_arn" {
  description = "ARN API Gateway's proxy integration invokes."
  value       = aws_lambda_function.read.invoke_arn
}

output "timeout_s" {
  description = "Longest invocation (sizes the concurrency an event needs)."
  value       = aws_lambda_function.read.timeout
}

output "reserved_concurrency" {
  description = "Reserved concurrent executions (-1: unreserved)."
  value       = aws_lambda_function.read.reserved_concurrent_executions
}

output "layer_arn" {
  description = "The dependency layer (runtime lock), shared with the events Lambda."
  value       = aws_lambda_layer_version.dependencies.arn
}
