output "pool_table_name" {
  description = "Name of the pool table."
  value       = aws_dynamodb_table.pool.name
}

output "pool_table_arn" {
  description = "ARN of the pool table."
  value       = aws_dynamodb_table.pool.arn
}

output "replies_table_name" {
  description = "Name of the reply table."
  value       = aws_dynamodb_table.replies.name
}

output "replies_table_arn" {
  description = "ARN of the reply table."
  value       = aws_dynamodb_table.replies.arn
}

output "tenants_table_name" {
  description = "Name of the tenants table."
  value       = aws_dynamodb_table.tenants.name
}

output "tenants_table_arn" {
  description = "ARN of the tenants table."
  value       = aws_dynamodb_table.tenants.arn
}

output "pool_table_stream_arn" {
  description = "ARN of the pool table's stream (v2: history and events)."
  value       = aws_dynamodb_table.pool.stream_arn
}
