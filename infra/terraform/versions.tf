terraform {
  required_version = ">= 1.5.0"

  required_providers {
    aws = {
      source = "hashicorp/aws"
      # 5.x: target-tracking metric math (customized_metric_specification.metrics) and
      # the GSI hash_key/range_key arguments this configuration uses.
      version = ">= 5.70, < 6.0"
    }
    archive = {
      source  = "hashicorp/archive"
      version = ">= 2.4, < 3.0"
    }
  }
}
