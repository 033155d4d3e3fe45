"""The HTTP API's shared parts: the resolver, problem+json answers, media types, what every JWT route reads first."""
