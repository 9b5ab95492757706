output "arns" {
  description = "Secret ARN by token (track, admin, csp, signing): the given one or the one created."
  value = {
    for k, arn in local.given : k => arn != "" ? arn : aws_secretsmanager_secret.token[k].arn
  }
}

output "created" {
  description = "ARNs of the secrets this module created (empty until a value is put)."
  value       = { for k, s in aws_secretsmanager_secret.token : k => s.arn }
}
