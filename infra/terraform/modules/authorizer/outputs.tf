output "function_name" {
  description = "Name of the authorizer Lambda."
  value       = aws_lambda_function.authorizer.function_name
}

output "invoke_arn" {
  description = "ARN API Gateway invokes the authorizer with."
  value       = aws_lambda_function.authorizer.invoke_arn
}

output "timeout_s" {
  description = "Longest invocation (sizes the concurrency an event needs)."
  value       = aws_lambda_function.authorizer.timeout
}

output "reserved_concurrency" {
  description = "Reserved concurrent executions (-1: unreserved)."
  value       = aws_lambda_function.authorizer.reserved_concurrent_executions
}
