output "consumer_task_role_arn" {
  description = "Role of the consumer application."
  value       = aws_iam_role.consumer_task.arn
}

output "consumer_execution_role_arn" {
  description = "ECS task execution role of the consumer."
  value       = aws_iam_role.consumer_execution.arn
}

output "api_gateway_role_arn" {
  description = "Role API Gateway's SQS and DynamoDB integrations assume."
  value       = aws_iam_role.api_gateway.arn
}

output "api_gateway_logs_role_arn" {
  description = "Account-wide API Gateway CloudWatch Logs role (empty when not managed here)."
  value       = var.manage_apigw_account_role ? aws_iam_role.api_gateway_logs[0].arn : ""
}

output "scheduler_role_arn" {
  description = "Role EventBridge Scheduler assumes to publish job events."
  value       = aws_iam_role.scheduler.arn
}

output "authorizer_role_arn" {
  description = "Execution role of the token authorizer Lambda."
  value       = aws_iam_role.authorizer.arn
}

output "read_lambda_role_arn" {
  description = "Execution role of the read Lambda."
  value       = aws_iam_role.read_lambda.arn
}
