output "function_name" {
  description = "Name of the authorizer Lambda."
  value       = aws_lambda_function.authorizer.function_name
}

output "invoke_arn" {
  description = "ARN API Gateway invokes the authorizer with."
  value       = aws_lambda_function.authorizer.invoke_arn
}
