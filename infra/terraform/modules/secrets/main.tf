# The three tokens and the v2 token signing secret live in Secrets Manager; their values
# never appear in this code or in Terraform state (so the signing secret is not generated
# here: a generated value would be stored in the state). Pass the ARN of a secret you
# already have, or leave it empty and this
# module creates an empty secret for you to fill (see README.md):
#   aws secretsmanager put-secret-value --secret-id <arn> --secret-string "$(openssl rand -hex 32)"

locals {
  given = {
    track = var.track_token_secret_arn
    admin = var.admin_token_secret_arn
    csp   = var.csp_token_secret_arn
    # v2: the signed-track-token secret (BROKER_TOKEN_SIGNING_SECRET, >= 24 chars). Until a
    # value is put, signed tokens are refused and minting answers 404.
    signing = var.signing_secret_arn
  }
  missing = {
    for k, arn in local.given : k => (k == "signing" ? "${var.stem}/token-signing-secret" : "${var.stem}/${k}-token") if arn == ""
  }
}

resource "aws_secretsmanager_secret" "token" {
  #checkov:skip=CKV2_AWS_57:bearer tokens are shared with lab tracks and the CSP; rotation is an operator procedure (README.md), not a Lambda that would break every running lab
  #checkov:skip=CKV_AWS_149:AWS-managed key (aws/secretsmanager); only roles of this account read the secrets
  for_each = local.missing

  name                    = each.value
  description             = each.key == "signing" ? "Sandbox Broker token signing secret (value set out of band, never in code)" : "Sandbox Broker ${each.key} token (value set out of band, never in code)"
  recovery_window_in_days = 7
}
