"""Terra Connect: a serverless backend that connects an app's users to their wearables through Terra."""
