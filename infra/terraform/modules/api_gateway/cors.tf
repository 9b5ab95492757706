# CORS as the local gateway answers it (producers/gateway/middleware.py), rendered and
# checked in tests/infra/test_api_gateway_cors.py:
# - every integration response template starts with infra/apigw/cors.vtl, which echoes an
#   allowed Origin (a response override: a static parameter cannot name one of several);
# - OPTIONS on each route is a MOCK answering the preflight (infra/apigw/preflight.vtl);
# - API Gateway's own answers (gateway_responses.tf) cannot run a template: with one
#   allowed origin they name it, with several (or "*") they echo the request's Origin
#   whatever it is. They carry only a fixed error body, so no data is opened to another
#   origin by that; the README's differences table says so.

locals {
  # The local gateway's policy (producers/gateway/validation.py ALLOWED_REQUEST_HEADERS,
  # middleware.py CORS_METHODS, CORS_EXPOSED, CORS_MAX_AGE_S); the test holds them equal.
  cors_allowed_headers = [
    "Authorization",
    "Content-Type",
    "X-Instruqt-Sandbox-ID",
    "X-Instruqt-Track-ID",
    "X-Track-ID",
    "X-Sandbox-Name-Prefix",
    "Idempotency-Key",
    "X-Wait-For-Sandbox-S",
    "X-Extend-By-S",
  ]
  cors_methods   = ["GET", "POST"]
  cors_exposed   = "Retry-After, Location"
  cors_max_age_s = 600

  cors_enabled    = length(var.cors_origins) > 0
  cors_any_origin = contains(var.cors_origins, "*")
  cors_origins    = [for o in var.cors_origins : trimsuffix(o, "/") if o != "*"]

  cors_vtl = templatefile("${local.vtl}/cors.vtl", {
    origins    = jsonencode(local.cors_origins)
    any_origin = local.cors_any_origin
    exposed    = local.cors_exposed
  })

  # Declared on every method response: the template sets the first two per request;
  # Vary is static, on every answer once any origin is allowed (as the local gateway's).
  method_cors_headers = local.cors_enabled ? {
    "method.response.header.Access-Control-Allow-Origin"   = false
    "method.response.header.Access-Control-Expose-Headers" = false
    "method.response.header.Vary"                          = false
  } : {}
  integration_cors_headers = local.cors_enabled ? {
    "method.response.header.Vary" = "'Origin'"
  } : {}

  # API Gateway's own answers: static, or the request's Origin echoed (see above).
  gateway_cors_headers = !local.cors_enabled ? {} : merge(
    {
      "gatewayresponse.header.Access-Control-Expose-Headers" = "'${local.cors_exposed}'"
      "gatewayresponse.header.Vary"                          = "'Origin'"
    },
    length(local.cors_origins) == 1 && !local.cors_any_origin ? {
      "gatewayresponse.header.Access-Control-Allow-Origin" = "'${local.cors_origins[0]}'"
      } : {
      "gatewayresponse.header.Access-Control-Allow-Origin" = "method.request.header.Origin"
    },
  )

  preflight_vars = {
    cors            = local.cors_vtl
    methods         = jsonencode(local.cors_methods)
    allowed_headers = jsonencode([for h in local.cors_allowed_headers : lower(h)])
  }
  preflight_request = templatefile("${local.vtl}/preflight.vtl", merge(local.preflight_vars, { part = "request" }))
  preflight_answer  = templatefile("${local.vtl}/preflight.vtl", merge(local.preflight_vars, { part = "answer" }))
}
