variable "pool_table_name" {
  description = "Name of the sandbox pool table, e.g. sandbox-pool."
  type        = string
}

variable "replies_table_name" {
  description = "Name of the reply table, e.g. sandbox-replies."
  type        = string
}

variable "deletion_protection" {
  description = "Refuse to delete the tables (turn off before destroying a stage)."
  type        = bool
}

variable "tenants_table_name" {
  description = "Name of the tenants table, e.g. sandbox-tenants."
  type        = string
}
