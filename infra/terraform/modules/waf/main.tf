# Per-track throttling on AWS (CONTRACT.md "Rate limit"): a WAF web ACL on the API stage
# whose rate-based rules count each (track header, Authorization header) pair, the local
# gateway's per-(tenant, track) bucket. Usage plans cannot key on a header; WAF can.
#
# - WAF does not count a request that lacks one of a rule's custom keys, so each track
#   header has its own rule: X-Instruqt-Sandbox-ID where it is sent and not empty, the
#   legacy X-Track-ID only where it is not (the local gateway's choice of track id).
# - The Authorization header is part of the key: a wrong token never spends a real
#   track's budget (WAF counts before the authorizer runs), and two tenants' tracks with
#   equal ids are two budgets.
# - WAF windows are at least 60 s and count requests, not tokens: the limit is what the
#   local token bucket lets through in any 60 s (rate + burst), so a track that never hits
#   the local limit never hits this one. WAF also blocks only after its next evaluation
#   (within seconds): a budget, not an exact limiter.
# - Admin calls carry no track header and are never counted here: their budget is the
#   admin usage plan.

locals {
  limit_per_window = var.track_rate_limit_per_min + var.track_rate_limit_burst
  # What a blocked request gets: the contract's 429 (WAF's answer replaces API Gateway's
  # entirely, so the security headers are repeated here).
  blocked_headers = merge(
    {
      "Retry-After"            = tostring(var.retry_after_s)
      "X-Content-Type-Options" = "nosniff"
      "X-Frame-Options"        = "DENY"
      "Referrer-Policy"        = "no-referrer"
      "Cache-Control"          = "no-store"
      # API Gateway serves HTTPS only.
      "Strict-Transport-Security" = "max-age=31536000; includeSubDomains"
    },
    # One allowed origin can be named statically; WAF cannot echo a request's Origin.
    length(var.cors_origins) == 1 && !contains(var.cors_origins, "*") ? {
      "Access-Control-Allow-Origin"   = var.cors_origins[0]
      "Access-Control-Expose-Headers" = "Retry-After, Location"
      "Vary"                          = "Origin"
    } : {},
  )
  # header => counted when the preferred header is present and not empty (GT 0) or
  # absent or empty (NOT GT 0): exactly one rule counts a request with a track header.
  track_rules = {
    track-sandbox-header = {
      priority            = 10
      header              = "x-instruqt-sandbox-id"
      preferred_non_empty = true
    }
    track-legacy-header = {
      priority            = 20
      header              = "x-track-id"
      preferred_non_empty = false
    }
  }
  preferred_header_non_empty = {
    comparison_operator = "GT"
    size                = 0
    header              = "x-instruqt-sandbox-id"
  }
}

resource "aws_wafv2_web_acl" "api" {
  #checkov:skip=CKV_AWS_192:no request reaches a Java runtime (API Gateway integrations and Python Lambdas), and every header value the API reads is checked against [A-Za-z0-9._:@-]; the Log4j managed rule group would only add cost
  name        = "${var.stem}-api"
  description = "Sandbox Broker API: per-track budgets (track header + Authorization)"
  scope       = "REGIONAL"

  default_action {
    allow {}
  }

  custom_response_body {
    key          = "rate_limited"
    content_type = "APPLICATION_JSON"
    content      = jsonencode({ error = { code = "RATE_LIMITED", message = "rate limit exceeded" } })
  }

  dynamic "rule" {
    for_each = local.track_rules
    content {
      name     = rule.key
      priority = rule.value.priority

      action {
        block {
          custom_response {
            response_code            = 429
            custom_response_body_key = "rate_limited"
            dynamic "response_header" {
              for_each = local.blocked_headers
              content {
                name  = response_header.key
                value = response_header.value
              }
            }
          }
        }
      }

      statement {
        rate_based_statement {
          limit                 = local.limit_per_window
          evaluation_window_sec = 60
          aggregate_key_type    = "CUSTOM_KEYS"

          custom_key {
            header {
              name = rule.value.header
              text_transformation {
                priority = 0
                type     = "NONE"
              }
            }
          }

          custom_key {
            header {
              name = "authorization"
              text_transformation {
                priority = 0
                type     = "NONE"
              }
            }
          }

          # The preferred header counts where it is sent and not empty (an empty header
          # counts as absent locally); the legacy one only where the preferred does not.
          scope_down_statement {
            dynamic "size_constraint_statement" {
              for_each = rule.value.preferred_non_empty ? [local.preferred_header_non_empty] : []
              content {
                comparison_operator = size_constraint_statement.value.comparison_operator
                size                = size_constraint_statement.value.size
                field_to_match {
                  single_header {
                    name = size_constraint_statement.value.header
                  }
                }
                text_transformation {
                  priority = 0
                  type     = "NONE"
                }
              }
            }
            dynamic "not_statement" {
              for_each = rule.value.preferred_non_empty ? [] : [local.preferred_header_non_empty]
              content {
                statement {
                  size_constraint_statement {
                    comparison_operator = not_statement.value.comparison_operator
                    size                = not_statement.value.size
                    field_to_match {
                      single_header {
                        name = not_statement.value.header
                      }
                    }
                    text_transformation {
                      priority = 0
                      type     = "NONE"
                    }
                  }
                }
              }
            }
          }
        }
      }

      visibility_config {
        cloudwatch_metrics_enabled = true
        metric_name                = "${var.stem}-${rule.key}"
        sampled_requests_enabled   = true
      }
    }
  }

  visibility_config {
    cloudwatch_metrics_enabled = true
    metric_name                = "${var.stem}-api"
    sampled_requests_enabled   = true
  }
}

resource "aws_wafv2_web_acl_association" "stage" {
  resource_arn = var.stage_arn
  web_acl_arn  = aws_wafv2_web_acl.api.arn
}

# WAF logs need a log group whose name starts with aws-waf-logs-. The Authorization header
# is redacted: a log line never carries a token.
resource "aws_cloudwatch_log_group" "waf" {
  #checkov:skip=CKV_AWS_158:request metadata with the Authorization header redacted; the default CloudWatch Logs encryption is enough
  name              = "aws-waf-logs-${var.stem}"
  retention_in_days = var.log_retention_days
}

resource "aws_wafv2_web_acl_logging_configuration" "api" {
  resource_arn            = aws_wafv2_web_acl.api.arn
  log_destination_configs = [aws_cloudwatch_log_group.waf.arn]

  redacted_fields {
    single_header {
      name = "authorization"
    }
  }

  logging_filter {
    default_behavior = "DROP"
    filter {
      # Only what was blocked: the access logs already hold every request.
      behavior    = "KEEP"
      requirement = "MEETS_ANY"
      condition {
        action_condition {
          action = "BLOCK"
        }
      }
    }
  }
}
