# Answers API Gateway gives itself (auth, throttling, unknown routes, bad content types) in
# the contract's error body. These templates are static (API Gateway does not run VTL here),
# so their CORS headers are too (cors.tf).

locals {
  gateway_responses = {
    UNAUTHORIZED                   = { status = "401", code = "UNAUTHORIZED", message = "missing or invalid bearer token" }
    ACCESS_DENIED                  = { status = "403", code = "FORBIDDEN", message = "this token may not use this route" }
    INVALID_API_KEY                = { status = "403", code = "FORBIDDEN", message = "this token may not use this route" }
    MISSING_AUTHENTICATION_TOKEN   = { status = "404", code = "NOT_FOUND", message = "no such route" }
    RESOURCE_NOT_FOUND             = { status = "404", code = "NOT_FOUND", message = "no such route" }
    BAD_REQUEST_PARAMETERS         = { status = "400", code = "INVALID_REQUEST", message = "a required header or path parameter is missing" }
    BAD_REQUEST_BODY               = { status = "400", code = "INVALID_REQUEST", message = "the body must be empty or {}" }
    UNSUPPORTED_MEDIA_TYPE         = { status = "400", code = "INVALID_REQUEST", message = "the body must be empty or {}" }
    REQUEST_TOO_LARGE              = { status = "413", code = "PAYLOAD_TOO_LARGE", message = "the body may be at most 16384 bytes" }
    THROTTLED                      = { status = "429", code = "RATE_LIMITED", message = "too many requests; retry later" }
    QUOTA_EXCEEDED                 = { status = "429", code = "RATE_LIMITED", message = "too many requests; retry later" }
    AUTHORIZER_FAILURE             = { status = "503", code = "QUEUE_UNAVAILABLE", message = "authorization is unavailable; retry later" }
    AUTHORIZER_CONFIGURATION_ERROR = { status = "503", code = "QUEUE_UNAVAILABLE", message = "authorization is unavailable; retry later" }
    DEFAULT_4XX                    = { status = "", code = "INVALID_REQUEST", message = "the request was refused" }
    DEFAULT_5XX                    = { status = "", code = "QUEUE_UNAVAILABLE", message = "the service is unavailable; retry later" }
  }

  # Extra headers some answers carry (CONTRACT.md: 401 names the scheme, 429 says when).
  gateway_response_headers = {
    UNAUTHORIZED   = { "gatewayresponse.header.WWW-Authenticate" = "'Bearer'" }
    THROTTLED      = { "gatewayresponse.header.Retry-After" = "'1'" }
    QUOTA_EXCEEDED = { "gatewayresponse.header.Retry-After" = "'60'" }
  }
}

resource "aws_api_gateway_gateway_response" "contract" {
  for_each = local.gateway_responses

  rest_api_id   = aws_api_gateway_rest_api.this.id
  response_type = each.key
  status_code   = each.value.status == "" ? null : each.value.status
  response_templates = {
    "application/json" = jsonencode({ error = { code = each.value.code, message = each.value.message } })
  }
  response_parameters = merge(
    { for h, v in local.security_headers : "gatewayresponse.header.${h}" => v },
    local.gateway_cors_headers,
    lookup(local.gateway_response_headers, each.key, {}),
  )
}
