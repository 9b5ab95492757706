output "cluster_name" {
  description = "ECS cluster name."
  value       = aws_ecs_cluster.this.name
}

output "service_name" {
  description = "Consumer service name."
  value       = aws_ecs_service.consumer.name
}

output "task_definition_arn" {
  description = "Current consumer task definition."
  value       = aws_ecs_task_definition.consumer.arn
}

output "container_definitions" {
  description = "The consumer's container definitions (JSON), for inspection."
  value       = aws_ecs_task_definition.consumer.container_definitions
}
