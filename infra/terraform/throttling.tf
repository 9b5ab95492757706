# Stage-wide limits sized for the largest event this deployment declares (CONTRACT.md
# "Rate limit"): max_event_tracks tracks allocating within one minute, each on the track
# client's poll schedule (producers/track_client/protocol.py: the first poll after 0.1 s,
# the pause doubling up to 1 s). tests/infra/test_event_throttling.py replays such an event
# with the client's own schedule against every limit on its path (stage, usage plan, WAF,
# SQS, DynamoDB, both Lambdas' concurrency and the authorizer cache) and checks the
# schedule written here against the client's.

locals {
  # The track client's pauses before each poll, until the pause reaches its ceiling.
  poll_first_pauses_s = [0.1, 0.2, 0.4, 0.8]
  poll_max_s          = 1
  # Polls until a reply written event_reply_s after its request is seen: the first four,
  # then one a second, up to and including the poll that finds it.
  polls_per_reply = length(local.poll_first_pauses_s) + ceil((var.event_reply_s - sum(local.poll_first_pauses_s)) / local.poll_max_s)
  # allocate, its polls, the sandbox read, release, its polls: the most one track does
  # within an event (a release in the same minute is the worst case, not the usual one).
  requests_per_track = 3 + 2 * local.polls_per_reply
  # Tracks arriving evenly over the minute: each second carries that many tracks' requests.
  event_requests_per_s = var.max_event_tracks / 60 * local.requests_per_track

  stage_rate_limit_per_s = coalesce(var.api_rate_limit_per_s, ceil(local.event_requests_per_s * var.event_headroom))
  # One second's worth: the bucket absorbs tracks clustering within a second.
  stage_burst_limit = coalesce(var.api_burst_limit, local.stage_rate_limit_per_s)
}
