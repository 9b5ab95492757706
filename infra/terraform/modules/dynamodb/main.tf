# The pool and replies tables, exactly as `sandbox-broker infra provision` creates them
# locally (infra/provision.py table_specs; the drift test compares the two).

resource "aws_dynamodb_table" "pool" {
  #checkov:skip=CKV_AWS_119:AWS-managed KMS key, as local provisioning uses (SSESpecification Enabled); a CMK adds key policy upkeep for no cross-account need
  name         = var.pool_table_name
  billing_mode = "PAY_PER_REQUEST"
  # The original item layout (PK = SBX#<id> / TRACK#<id>, SK = META / CURRENT), so an
  # existing table can be adopted.
  hash_key                    = "PK"
  range_key                   = "SK"
  deletion_protection_enabled = var.deletion_protection

  attribute {
    name = "PK"
    type = "S"
  }

  attribute {
    name = "SK"
    type = "S"
  }

  attribute {
    name = "status"
    type = "S"
  }

  attribute {
    name = "allocated_at"
    type = "N"
  }

  attribute {
    name = "allocated_to_track"
    type = "S"
  }

  attribute {
    name = "idempotency_key"
    type = "S"
  }

  global_secondary_index {
    name            = "StatusIndex"
    hash_key        = "status"
    range_key       = "allocated_at"
    projection_type = "ALL"
  }

  global_secondary_index {
    name            = "TrackIndex"
    hash_key        = "allocated_to_track"
    range_key       = "allocated_at"
    projection_type = "ALL"
  }

  global_secondary_index {
    name            = "IdempotencyIndex"
    hash_key        = "idempotency_key"
    range_key       = "allocated_at"
    projection_type = "ALL"
  }

  # v2: lease history items (PK = HIST#<sandbox_id>) expire 90 days after their lease ended.
  ttl {
    attribute_name = "ttl"
    enabled        = true
  }

  # v2: history and events are derived from the table's changes (modules/events).
  stream_enabled   = true
  stream_view_type = "NEW_AND_OLD_IMAGES"

  point_in_time_recovery {
    enabled = true
  }

  server_side_encryption {
    enabled = true
  }
}

resource "aws_dynamodb_table" "replies" {
  #checkov:skip=CKV_AWS_119:AWS-managed KMS key, as local provisioning uses (SSESpecification Enabled); a CMK adds key policy upkeep for no cross-account need
  name                        = var.replies_table_name
  billing_mode                = "PAY_PER_REQUEST"
  hash_key                    = "request_id"
  deletion_protection_enabled = var.deletion_protection

  attribute {
    name = "request_id"
    type = "S"
  }

  # Reply rows carry their own expiry (BROKER_REPLY_TTL_S after creation).
  ttl {
    attribute_name = "ttl"
    enabled        = true
  }

  point_in_time_recovery {
    enabled = true
  }

  server_side_encryption {
    enabled = true
  }
}

# v2: tenant configs (PK = TENANT, SK = <name>) and token hashes (PK = TOKEN#<sha256>,
# SK = TOKEN); schemas/tenants.py has the layout. Read by the authorizer, the read Lambda
# and the consumer; written only by the operator CLI.
resource "aws_dynamodb_table" "tenants" {
  #checkov:skip=CKV_AWS_119:AWS-managed KMS key, as local provisioning uses (SSESpecification Enabled); a CMK adds key policy upkeep for no cross-account need
  name                        = var.tenants_table_name
  billing_mode                = "PAY_PER_REQUEST"
  hash_key                    = "PK"
  range_key                   = "SK"
  deletion_protection_enabled = var.deletion_protection

  attribute {
    name = "PK"
    type = "S"
  }

  attribute {
    name = "SK"
    type = "S"
  }

  point_in_time_recovery {
    enabled = true
  }

  server_side_encryption {
    enabled = true
  }
}
