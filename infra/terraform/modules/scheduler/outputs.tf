output "schedule_group" {
  description = "Schedule group holding the job schedules."
  value       = aws_scheduler_schedule_group.jobs.name
}

output "schedules" {
  description = "Schedule name by job type."
  value       = { for k, s in aws_scheduler_schedule.job : k => s.name }
}
